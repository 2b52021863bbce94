"""The local Slack's HTTP plumbing: a threaded server on 127.0.0.1 that routes ``/api/<method>`` to
the Web API method tables, ``/upload/…`` to the file upload endpoint and ``/commands/…`` and
``/actions/…`` to response URLs, then delivers the events the request caused to subscribers."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from email.message import Message as HttpHeaders
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from bot.local_slack import chat_api, directory_api, files_api, views_api
from bot.local_slack.web_api import Method, Reply, answer_call
from bot.local_slack.workspace_state import WorkspaceState

__all__ = ["METHODS", "HttpServer"]

logger = logging.getLogger(__name__)

METHODS: dict[str, Method] = {
    **directory_api.METHODS,
    **chat_api.METHODS,
    **views_api.METHODS,
    **files_api.METHODS,
}
"""Every Web API method the local Slack knows, by name."""


class HttpServer:
    """Serves one workspace's state on ``state.host`` and ``port`` (0: any free port)."""

    def __init__(self, state: WorkspaceState, port: int) -> None:
        self._state = state
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the local Slack server is already running")
        self._server = _Server((self._state.host, self._port), self)
        self._state.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-slack", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        self._state.port = None
        stopper = threading.Thread(target=server.shutdown, name="local-slack-stop")
        stopper.start()
        # serve_forever only sees the shutdown request when select() returns: a connection wakes
        # it at once instead of after its poll interval.
        with contextlib.suppress(OSError):
            socket.create_connection((self._state.host, server.server_port), timeout=1).close()
        stopper.join()
        server.server_close()
        thread.join()

    def serve(self, path: str, headers: HttpHeaders, body: bytes) -> Reply:
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")
        content_type = headers.get("Content-Type", "")
        try:
            if parts[0] == "api" and len(parts) == 2:
                reply = answer_call(
                    self._state,
                    METHODS,
                    parts[1],
                    url.query,
                    body,
                    content_type=content_type,
                    authorization=headers.get("Authorization"),
                )
            elif parts[0] == "upload" and len(parts) == 3:
                reply = files_api.receive_upload(self._state, parts[2], content_type, body)
            elif parts[0] in ("commands", "actions") and len(parts) == 4:
                reply = chat_api.receive_response(self._state, parts[3], content_type, body)
            else:
                reply = Reply(404, b"not found", content_type="text/plain")
        except Exception:
            logger.exception("local Slack failed on %s", url.path)
            reply = Reply(500, b"internal error in the local Slack fake", "text/plain")
        self._state.dispatch()
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], http: HttpServer) -> None:
        super().__init__(address, _Handler)
        self.http = http


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = cast(_Server, self.server).http.serve(self.path, self.headers, body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("local Slack: " + format, *args)

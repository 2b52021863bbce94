"""Socket Mode for the local Slack: a WebSocket server on 127.0.0.1 that talks to an app as Slack does.

``apps.connections.open`` (called with the app-level token) hands out
``ws://127.0.0.1:<port>/link/?ticket=…&app_id=…``; each ticket opens one connection. The server
answers the HTTP/1.1 Upgrade handshake of RFC 6455 (``Sec-WebSocket-Accept`` is the digest of the
client's key), then sends ``hello``. Tests push envelopes (``slash_commands``, ``interactive``,
``events_api``) to the newest connection, as Slack picks one of an app's connections, and read the
acks (``{"envelope_id", "payload"?}``) back with how long each took. ``disconnect`` asks the app to
open a new connection through ``apps.connections.open``; the old one stays open until the app
closes it, as Slack keeps it for a while. Pings are answered with pongs, a close frame with a close
frame. Frames from the app must be masked, frames to it are not. There is no TLS: slack_sdk's
builtin client connects without it to any port but 443.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import http.client
import io
import json
import logging
import socket
import socketserver
import struct
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self, cast
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

__all__ = [
    "Ack",
    "SocketModeServer",
    "accept_key",
    "command_payload",
    "encode_frame",
    "interaction_payload",
]

logger = logging.getLogger(__name__)

_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LINK_PATH = "/link/"
_HOST_NAME = "applink-local"
_HANDSHAKE_TIMEOUT_SECONDS = 5.0
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Interactive payloads whose ack may carry an answer (options, `response_action`); a slash command's
# ack may carry a message. The others are acked empty.
_ANSWERED_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


class Opcode(enum.IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    MESSAGE_TOO_BIG = 1009


@dataclass(frozen=True)
class Ack:
    """An app's answer to an envelope; ``seconds`` from sending the envelope to receiving the ack."""

    envelope_id: str
    payload: Mapping[str, Any] | None
    seconds: float


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` answering a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1((key + _WEBSOCKET_GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def encode_frame(opcode: Opcode, payload: bytes = b"") -> bytes:
    """One final, unmasked frame, as a server sends it."""
    size = len(payload)
    if size < 126:
        length = bytes([size])
    elif size < 1 << 16:
        length = bytes([126]) + struct.pack("!H", size)
    else:
        length = bytes([127]) + struct.pack("!Q", size)
    return bytes([0x80 | opcode]) + length + payload


def command_payload(body: str) -> dict[str, str]:
    """The ``payload`` of a ``slash_commands`` envelope: the fields of the form Slack posts over HTTP."""
    return dict(parse_qsl(body, keep_blank_values=True))


def interaction_payload(body: str) -> dict[str, Any]:
    """The ``payload`` of an ``interactive`` envelope: the JSON Slack posts over HTTP as ``payload``."""
    parsed: dict[str, Any] = json.loads(command_payload(body)["payload"])
    return parsed


class _ProtocolError(Exception):
    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class _Frame:
    final: bool
    opcode: int
    payload: bytes


def _read(stream: io.BufferedIOBase, size: int) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the connection closed in the middle of a frame")
    return data


def _read_frame(stream: io.BufferedIOBase) -> _Frame | None:
    """The next frame from the app (unmasked), or None when the app closed the connection."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    first, second = head
    if first & 0x70:
        raise _ProtocolError(CloseCode.PROTOCOL_ERROR, "reserved bits set without an extension")
    if not second & 0x80:
        raise _ProtocolError(CloseCode.PROTOCOL_ERROR, "a client frame must be masked")
    opcode, final, size = first & 0x0F, bool(first & 0x80), second & 0x7F
    if size == 126:
        size = struct.unpack("!H", _read(stream, 2))[0]
    elif size == 127:
        size = struct.unpack("!Q", _read(stream, 8))[0]
    if opcode >= 0x8 and (size > 125 or not final):
        raise _ProtocolError(CloseCode.PROTOCOL_ERROR, "a control frame must be final and short")
    if size > _MAX_MESSAGE_BYTES:
        raise _ProtocolError(CloseCode.MESSAGE_TOO_BIG, "message too big")
    mask = _read(stream, 4)
    masked = _read(stream, size)
    keystream = (mask * (size // 4 + 1))[:size]
    payload = (int.from_bytes(masked) ^ int.from_bytes(keystream)).to_bytes(size)
    return _Frame(final, opcode, payload)


def _close_payload(code: int, reason: str) -> bytes:
    return struct.pack("!H", code) + reason.encode()[:123]


class _Link:
    """One open WebSocket connection to the app."""

    def __init__(self, number: int, connection: socket.socket) -> None:
        self.number = number
        self._connection = connection
        self._send_lock = threading.Lock()
        self._closing = False

    @property
    def closing(self) -> bool:
        return self._closing

    def send(self, opcode: Opcode, payload: bytes = b"") -> None:
        with self._send_lock:
            self._connection.sendall(encode_frame(opcode, payload))

    def send_json(self, message: Mapping[str, Any]) -> None:
        self.send(Opcode.TEXT, json.dumps(message).encode())

    def close(self, code: int, reason: str) -> None:
        """Send a close frame once; the app answers with its own or drops the connection."""
        with self._send_lock:
            if self._closing:
                return
            self._closing = True
            try:
                self._connection.sendall(encode_frame(Opcode.CLOSE, _close_payload(code, reason)))
            except OSError:
                logger.debug("local Slack: link %d was gone before its close frame", self.number)

    def answer_close(self, payload: bytes) -> None:
        """The closing handshake an app started: echo its status code, then end the connection."""
        self.close(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else CloseCode.NORMAL, "")

    def drop(self) -> None:
        """End the TCP connection, so the thread reading it stops."""
        try:
            self._connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("local Slack: link %d was already shut down", self.number)


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], mode: SocketModeServer) -> None:
        super().__init__(address, _Handler)
        self.mode = mode


class _Handler(socketserver.StreamRequestHandler):
    timeout = _HANDSHAKE_TIMEOUT_SECONDS

    def handle(self) -> None:
        mode = cast(_TcpServer, self.server).mode
        link = mode._handshake(self.connection, self.rfile, self.wfile)
        if link is None:
            return
        self.connection.settimeout(None)
        try:
            mode._serve(link, self.rfile)
        finally:
            mode._forget(link)


class SocketModeServer:
    """The WebSocket endpoint of Socket Mode; its state is guarded by ``changed`` (the workspace's),
    which is notified whenever a connection opens or closes or an ack arrives."""

    def __init__(self, *, app_id: str, host: str, changed: threading.Condition) -> None:
        self._app_id = app_id
        self._changed = changed
        self._tcp = _TcpServer((host, 0), self)
        self._host = host
        self._thread = threading.Thread(
            target=self._tcp.serve_forever, kwargs={"poll_interval": 0.05}, name="local-slack-socket-mode"
        )
        self._tickets: set[str] = set()
        self._links: list[_Link] = []
        self._connects = 0
        self._sent_at: dict[str, float] = {}
        self._acks: dict[str, Ack] = {}

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection (1001, going away) and stop listening."""
        with self._changed:
            links = list(self._links)
        for link in links:
            link.close(CloseCode.GOING_AWAY, "server shutting down")
            link.drop()
        self._tcp.shutdown()
        self._tcp.server_close()
        self._thread.join()

    # -- what the workspace offers (called with the workspace lock held or not) -------------

    def issue_url(self) -> str:
        """A new WebSocket URL, as ``apps.connections.open`` returns it; its ticket opens one link."""
        ticket = str(uuid.uuid4())
        with self._changed:
            self._tickets.add(ticket)
        port = self._tcp.server_address[1]
        return f"ws://{self._host}:{port}{_LINK_PATH}?{urlencode({'ticket': ticket, 'app_id': self._app_id})}"

    def connections(self) -> int:
        with self._changed:
            return len(self._links)

    def connects(self) -> int:
        with self._changed:
            return self._connects

    def ack(self, envelope_id: str) -> Ack | None:
        with self._changed:
            return self._acks.get(envelope_id)

    def send(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Deliver an envelope to the newest connection; returns its ``envelope_id``."""
        envelope_id = str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = kind == "slash_commands" or (
                kind == "interactive" and payload.get("type") in _ANSWERED_INTERACTIONS
            )
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": dict(payload),
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api" or retry_attempt:
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        with self._changed:
            open_links = [link for link in self._links if not link.closing]
            if not open_links:
                raise ConnectionError("no app is connected over Socket Mode")
            link = open_links[-1]
            self._sent_at[envelope_id] = time.monotonic()
        link.send_json(envelope)
        return envelope_id

    def send_raw(self, text: str, *, envelope_id: str = "") -> None:
        """Deliver `text` as it is (a malformed envelope, say) to the newest connection; an ack of
        `envelope_id` is then recorded like the ack of any envelope."""
        with self._changed:
            open_links = [link for link in self._links if not link.closing]
            if not open_links:
                raise ConnectionError("no app is connected over Socket Mode")
            link = open_links[-1]
            if envelope_id:
                self._sent_at[envelope_id] = time.monotonic()
        link.send(Opcode.TEXT, text.encode())

    def disconnect(self, reason: str) -> None:
        """Ask every connected app to reconnect (``refresh_requested``, ``warning``, ``link_disabled``)."""
        with self._changed:
            links = list(self._links)
        for link in links:
            link.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": _HOST_NAME}})

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake on every connection."""
        with self._changed:
            links = list(self._links)
        for link in links:
            link.close(code, reason)

    # -- the connection threads -------------------------------------------------------------

    def _handshake(
        self, connection: socket.socket, rfile: io.BufferedIOBase, wfile: io.BufferedIOBase
    ) -> _Link | None:
        try:
            request_line = rfile.readline(8192).decode("latin-1").rstrip("\r\n")
            if not request_line:
                return None
            headers = http.client.parse_headers(rfile)
        except (OSError, http.client.HTTPException):
            logger.info("local Slack: an unreadable WebSocket handshake", exc_info=True)
            return None
        refusal = self._refusal(request_line, headers)
        if refusal is not None:
            status, extra = refusal
            body = f"{status} {http.client.responses.get(status, '')}\n".encode()
            head = [f"HTTP/1.1 {status} {http.client.responses.get(status, '')}", *extra]
            head += [f"Content-Length: {len(body)}", "Content-Type: text/plain", "Connection: close"]
            wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            return None
        wfile.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(headers['Sec-WebSocket-Key'].strip())}\r\n\r\n"
            ).encode()
        )
        with self._changed:
            self._connects += 1
            link = _Link(self._connects, connection)
            self._links.append(link)
            hello = {
                "type": "hello",
                "num_connections": len(self._links),
                "debug_info": {
                    "host": _HOST_NAME,
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self._app_id},
            }
            self._changed.notify_all()
        link.send_json(hello)
        return link

    def _refusal(self, request_line: str, headers: http.client.HTTPMessage) -> tuple[int, list[str]] | None:
        """The HTTP status (and headers) refusing an upgrade request, None to accept it."""
        parts = request_line.split(" ")
        if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
            return 400, []
        target = urlsplit(parts[1])
        if target.path != _LINK_PATH:
            return 404, []
        upgrade = headers.get("Upgrade", "").lower() == "websocket"
        connection = "upgrade" in [t.strip().lower() for t in headers.get("Connection", "").split(",")]
        if not (upgrade and connection and _valid_key(headers.get("Sec-WebSocket-Key", ""))):
            return 400, []
        if headers.get("Sec-WebSocket-Version", "").strip() != "13":
            return 426, ["Sec-WebSocket-Version: 13"]
        ticket = parse_qs(target.query).get("ticket", [""])[0]
        with self._changed:
            if ticket not in self._tickets:
                return 401, []
            self._tickets.discard(ticket)
        return None

    def _serve(self, link: _Link, rfile: io.BufferedIOBase) -> None:
        """Read the app's frames until it closes the connection or breaks the protocol."""
        message: list[bytes] = []
        try:
            while (frame := _read_frame(rfile)) is not None:
                if frame.opcode == Opcode.PING:
                    link.send(Opcode.PONG, frame.payload)
                    with self._changed:
                        self._changed.notify_all()  # a waiter may look for the app's side of the ping
                elif frame.opcode == Opcode.CLOSE:
                    link.answer_close(frame.payload)
                    return
                elif frame.opcode == Opcode.BINARY:
                    link.close(CloseCode.UNSUPPORTED_DATA, "Socket Mode speaks JSON text frames")
                    return
                elif frame.opcode in (Opcode.TEXT, Opcode.CONTINUATION):
                    # A message starts with a text frame; continuation frames belong to one started.
                    if (frame.opcode == Opcode.TEXT) == bool(message):
                        link.close(CloseCode.PROTOCOL_ERROR, "unexpected continuation")
                        return
                    message.append(frame.payload)
                    if frame.final:
                        self._receive(b"".join(message))
                        message = []
                elif frame.opcode != Opcode.PONG:
                    link.close(CloseCode.PROTOCOL_ERROR, "unknown opcode")
                    return
        except _ProtocolError as error:
            link.close(error.code, error.reason)
        except (EOFError, OSError):
            logger.debug("local Slack: link %d ended without a closing handshake", link.number)

    def _receive(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            logger.warning("local Slack: the app sent something that is not JSON: %r", data[:200])
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        with self._changed:
            sent_at = self._sent_at.get(envelope_id) if isinstance(envelope_id, str) else None
            if sent_at is None or not isinstance(envelope_id, str):
                logger.warning("local Slack: an ack for no envelope sent: %r", data[:200])
                return
            if envelope_id in self._acks:
                return  # Slack takes the first ack of an envelope
            payload = message.get("payload")
            self._acks[envelope_id] = Ack(
                envelope_id, payload if isinstance(payload, Mapping) else None, time.monotonic() - sent_at
            )
            self._changed.notify_all()

    def _forget(self, link: _Link) -> None:
        link.drop()
        with self._changed:
            if link in self._links:
                self._links.remove(link)
            self._changed.notify_all()


def _valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except binascii.Error:
        return False

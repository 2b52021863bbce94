"""The HTTP surface: Slack's request URL plus health and readiness endpoints, as one WSGI app."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["SLACK_PATH", "create_wsgi_app"]

SLACK_PATH = "/slack/events"


def create_wsgi_app(bolt_app: App, ready: Callable[[], bool]) -> WSGIApplication:
    """`/slack/events` goes to Bolt; `/healthz` says the process lives; `/readyz` checks the database."""
    slack = SlackRequestHandler(bolt_app, path=SLACK_PATH)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _plain(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            if ready():
                return _plain(start_response, "200 OK", b"ready\n")
            return _plain(start_response, "503 Service Unavailable", b"database not reachable\n")
        return slack(environ, start_response)

    return app


def _plain(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]

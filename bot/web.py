"""The HTTP surface: Slack's request URL plus health and readiness endpoints, as one WSGI app;
and the gate that lets acknowledgements go before the work they started.

A request to the Slack URL is checked before Bolt parses it: its signature first (401 when missing,
stale or wrong, whatever the body), then its body (400 when it does not parse or lacks what the
listeners need, `handlers.inbound.malformed`). Either refusal is one log line, never a traceback.
"""

from __future__ import annotations

import html
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, ParamSpec, TypeVar
from urllib.parse import parse_qsl

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from domain.errors import DomainError
from handlers.inbound import malformed
from storage.graph.signin import MicrosoftSignIn

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "ACK_FIRST_MAX_WAIT_SECONDS",
    "SIGN_IN_CALLBACK_PATH",
    "SLACK_PATH",
    "AcksFirst",
    "AcksFirstExecutor",
    "SlackGate",
    "create_wsgi_app",
]

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
SIGN_IN_CALLBACK_PATH = "/auth/microsoft/callback"
"""Where Microsoft sends the browser back after a sign-in (R24, `ADMIN_BINDING=entra`)."""
_CALLBACK_MAX_BYTES = 64 * 1024
"""A sign-in's answer (code, state, session state) is a few kilobytes at most."""
ACK_FIRST_MAX_WAIT_SECONDS = 0.25
"""The longest work waits for the acknowledgements in flight: under a steady stream of requests
there is always one, and the work must still go on."""
ACK_FIRST_QUIET_SECONDS = 0.01
"""How long no acknowledgement must have been in flight before work starts: the requests of a
burst reach the app one after the other, with gaps shorter than this between them."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


class AcksFirst:
    """Slack requests being acknowledged in this process, so that work can let them go first.

    A worker process answers Slack and does the work those answers started with one interpreter
    lock. Fifty requests at once would each wait for the lock behind the work of the requests
    before them; with this gate the work of a listener starts only once no acknowledgement has
    been in flight for `quiet` seconds (or after `max_wait`), so a burst is answered first and
    worked on right after.
    """

    def __init__(
        self, max_wait: float = ACK_FIRST_MAX_WAIT_SECONDS, quiet: float = ACK_FIRST_QUIET_SECONDS
    ) -> None:
        self._quiet = threading.Condition()
        self._in_flight = 0
        self._waiting = 0
        self._last_answered = 0.0
        self._max_wait = max_wait
        self._quiet_for = quiet

    @property
    def waiting(self) -> int:
        """Work waiting for its turn now."""
        with self._quiet:
            return self._waiting

    @contextmanager
    def acknowledging(self) -> Iterator[None]:
        with self._quiet:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._quiet:
                self._in_flight -= 1
                self._last_answered = time.monotonic()
                if self._in_flight == 0:
                    self._quiet.notify_all()

    def wait_turn(self) -> bool:
        """Wait until no acknowledgement has been in flight for `quiet` seconds, at most `max_wait`;
        True if that quiet came."""
        deadline = time.monotonic() + self._max_wait
        with self._quiet:
            self._waiting += 1
            try:
                while True:
                    now = time.monotonic()
                    quiet_at = self._last_answered + self._quiet_for
                    if self._in_flight == 0 and now >= quiet_at:
                        return True
                    if now >= deadline:
                        return False
                    until = deadline if self._in_flight else min(quiet_at, deadline)
                    self._quiet.wait(until - now)
            finally:
                self._waiting -= 1


class AcksFirstExecutor(ThreadPoolExecutor):
    """The listeners' thread pool, whose tasks let the acknowledgements in flight go first."""

    def __init__(self, gate: AcksFirst, max_workers: int, thread_name_prefix: str = "slack-listener") -> None:
        super().__init__(max_workers, thread_name_prefix=thread_name_prefix)
        self._gate = gate

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        def after_acks() -> _T:
            self._gate.wait_turn()
            return fn(*args, **kwargs)

        return super().submit(after_acks)


class SlackGate:
    """What a request to the Slack URL must pass before Bolt sees it: Slack's signature, then a
    body that parses (as Bolt parses it) into what the listeners need.

    Bolt verifies the signature too, but only after it has parsed the body, so garbage would make
    it raise before any check; here nothing is parsed before the signature is known to be Slack's.
    """

    def __init__(self, signing_secret: str) -> None:
        self._verifier = SignatureVerifier(signing_secret)

    def refusal(self, environ: WSGIEnvironment) -> tuple[str, str] | None:
        """The HTTP status and the reason (for the log) of refusing the request, or None; a body
        that passes is put back for Bolt to read."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return "400 Bad Request", "its Content-Length is not a number"
        raw: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        if not self._signed(raw, environ):
            return "401 Unauthorized", "no valid Slack signature"
        content_type = str(environ.get("CONTENT_TYPE") or "").split(";")[0] or None
        try:
            body = parse_body(raw.decode("utf-8"), content_type)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError too
            return "400 Bad Request", f"its body does not parse ({type(error).__name__})"
        reason = malformed(body)
        return None if reason is None else ("400 Bad Request", reason)

    def _signed(self, raw: bytes, environ: WSGIEnvironment) -> bool:
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE")
        try:
            return self._verifier.is_valid(raw, timestamp, signature)
        except ValueError:  # a timestamp that is not a number, a body that is not UTF-8
            return False


def create_wsgi_app(
    bolt_app: App,
    ready: Callable[[], bool],
    acks: AcksFirst | None = None,
    sign_in: MicrosoftSignIn | None = None,
    *,
    signing_secret: str,
) -> WSGIApplication:
    """`/slack/events` goes to Bolt once it passed the `SlackGate` of `signing_secret`; `/healthz`
    says the process lives; `/readyz` checks the database; with `sign_in`, `/auth/microsoft/callback`
    finishes a browser sign-in.

    With `acks`, every Slack request counts as being acknowledged until Bolt has answered it (see
    `AcksFirst`)."""
    slack = SlackRequestHandler(bolt_app, path=SLACK_PATH)
    gate = SlackGate(signing_secret)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == SIGN_IN_CALLBACK_PATH and sign_in is not None:
            return _signed_in(sign_in, environ, start_response)
        if path == "/healthz":
            return _plain(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            if ready():
                return _plain(start_response, "200 OK", b"ready\n")
            return _plain(start_response, "503 Service Unavailable", b"database not reachable\n")
        if path == SLACK_PATH and environ.get("REQUEST_METHOD") == "POST":
            refused = gate.refusal(environ)
            if refused is not None:
                status, reason = refused
                log.warning("refused a request to the Slack URL with %s: %s", status[:3], reason)
                return _plain(start_response, status, b"")
        if acks is None:
            return slack(environ, start_response)
        with acks.acknowledging():
            answer: Iterable[bytes] = slack(environ, start_response)
            return answer

    return app


def _signed_in(
    sign_in: MicrosoftSignIn, environ: WSGIEnvironment, start_response: StartResponse
) -> list[bytes]:
    """Microsoft's redirect: bind who signed in, and say so on a page (the person is told in Slack too)."""
    params = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    if environ.get("REQUEST_METHOD") == "POST":  # form_post: the code comes in the body
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(min(length, _CALLBACK_MAX_BYTES)).decode("utf-8", "replace")
        params.update(parse_qsl(body, keep_blank_values=True))
    try:
        who = sign_in.finish_in_browser(params)
    except DomainError as refusal:
        return _page(start_response, "400 Bad Request", "Not signed in", refusal.message)
    except Exception:  # the page says only that it failed; the log has the rest
        log.exception("a browser sign-in failed")
        return _page(
            start_response,
            "500 Internal Server Error",
            "Not signed in",
            "Something went wrong; nothing was bound.",
        )
    return _page(
        start_response,
        "200 OK",
        "Signed in",
        f"You are signed in as {who.user_principal_name}. You can close this page and go back to Slack.",
    )


def _page(start_response: StartResponse, status: str, title: str, text: str) -> list[bytes]:
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><title>licensebot: '
        f"{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p></body></html>\n"
    ).encode()
    start_response(
        status,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
        ],
    )
    return [body]


def _plain(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]

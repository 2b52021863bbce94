"""A local fake of the Microsoft identity platform's endpoints that msal uses, over real HTTP.

msal is given the tenant's real authority (`https://login.microsoftonline.com/{tenant}`) and an HTTP
client that sends those requests here (`storage.graph.signin.LoginHttp`). Served:
- `GET /{tenant}/v2.0/.well-known/openid-configuration`
- `POST /{tenant}/oauth2/v2.0/devicecode`: a device code and the code a person types
- `GET /{tenant}/oauth2/v2.0/authorize`: the browser sign-in; the person the test chose signs in and
  the browser brings a code and the state to the app's redirect URI: posted from a page
  (`response_mode=form_post`), else redirected (302) with them in the query
- `POST /{tenant}/oauth2/v2.0/token`: device code (pending until the test signs someone in) and
  authorization code, whose PKCE verifier must match the challenge of the authorize request

Id tokens carry `oid`, `tid`, `preferred_username`, `aud`, `iss`, `nonce`; they are not signed (msal
takes the token endpoint's TLS as the proof, and so does licensebot).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

PUBLIC = "https://login.microsoftonline.com"
TENANT = "8f2f5d4e-1c3b-4a59-9e1d-3b7f0c2a6d11"


@dataclass(frozen=True)
class Person:
    object_id: str
    user_principal_name: str
    tenant_id: str = TENANT


class FakeLogin:
    def __init__(self, client_id: str, tenant: str = TENANT) -> None:
        self.client_id = client_id
        self.tenant = tenant
        self._lock = threading.Lock()
        self._device: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self.next_browser_user: Person | None = None
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- what people do ------------------------------------------------------------------------

    def enter_code(self, user_code: str, person: Person) -> None:
        """Someone opens the device login page, types the code and signs in."""
        with self._lock:
            for flow in self._device.values():
                if flow["user_code"] == user_code:
                    flow["person"] = person
                    return
        raise LookupError(f"no device sign-in with the code {user_code}")

    def decline(self, user_code: str) -> None:
        with self._lock:
            for flow in self._device.values():
                if flow["user_code"] == user_code:
                    flow["declined"] = True

    # --- endpoints ----------------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(f"{method} {path}")
        base = f"/{self.tenant}"
        if method == "GET" and path == f"{base}/v2.0/.well-known/openid-configuration":
            return _json(200, self._configuration())
        if method == "POST" and path == f"{base}/oauth2/v2.0/devicecode":
            return _json(200, self._device_code(form))
        if method == "GET" and path == f"{base}/oauth2/v2.0/authorize":
            return self._authorize(query)
        if method == "POST" and path == f"{base}/oauth2/v2.0/token":
            return self._token(form)
        return _json(404, {"error": "not_found", "error_description": path})

    def _configuration(self) -> dict[str, Any]:
        root = f"{PUBLIC}/{self.tenant}"
        return {
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
        }

    def _device_code(self, form: dict[str, str]) -> dict[str, Any]:
        device_code = secrets.token_urlsafe(16)
        user_code = secrets.token_hex(4).upper()
        with self._lock:
            self._device[device_code] = {"user_code": user_code, "client_id": form.get("client_id")}
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900,
            "interval": 1,
            "message": f"To sign in, use https://microsoft.com/devicelogin and enter {user_code}.",
        }

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        person = self.next_browser_user
        if person is None or query.get("client_id") != self.client_id:
            return _json(400, {"error": "invalid_request"})
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _json(400, {"error": "invalid_request", "error_description": "PKCE is required"})
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = {
                "person": person,
                "challenge": query["code_challenge"],
                "redirect_uri": query.get("redirect_uri"),
                "nonce": query.get("nonce"),
            }
        answer = {"code": code, "state": query.get("state", "")}
        if query.get("response_mode") == "form_post":
            # The page a browser submits at once: the code goes to the redirect URI in a POST body.
            inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in answer.items())
            page = f'<form method="POST" action="{query["redirect_uri"]}">{inputs}</form>'
            return 200, {"Content-Type": "text/html", "X-Form-Action": query["redirect_uri"]}, page.encode()
        return 302, {"Location": f"{query['redirect_uri']}?{urlencode(answer)}"}, b""

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        grant = form.get("grant_type", "")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            with self._lock:
                flow = self._device.get(form.get("device_code", ""))
                if flow is None:
                    return _json(400, {"error": "expired_token", "error_description": "unknown code"})
                if flow.get("declined"):
                    del self._device[form["device_code"]]
                    return _json(400, {"error": "authorization_declined", "error_description": "declined"})
                person = flow.get("person")
                if person is None:
                    return _json(400, {"error": "authorization_pending", "error_description": "waiting"})
                del self._device[form["device_code"]]
            return _json(200, self._tokens(person, nonce=None))
        if grant == "authorization_code":
            with self._lock:
                issued = self._codes.pop(form.get("code", ""), None)
            if issued is None or issued["redirect_uri"] != form.get("redirect_uri"):
                return _json(400, {"error": "invalid_grant", "error_description": "unknown code"})
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if challenge != issued["challenge"]:
                return _json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
            if form.get("client_secret") is None:
                return _json(401, {"error": "invalid_client"})
            return _json(200, self._tokens(issued["person"], nonce=issued["nonce"]))
        return _json(400, {"error": "unsupported_grant_type"})

    def _tokens(self, person: Person, *, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": f"{PUBLIC}/{person.tenant_id}/v2.0",
            "aud": self.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "oid": person.object_id,
            "sub": person.object_id,
            "tid": person.tenant_id,
            "preferred_username": person.user_principal_name,
        }
        if nonce:
            claims["nonce"] = nonce
        client_info = {"uid": person.object_id, "utid": person.tenant_id}
        return {
            "token_type": "Bearer",
            "scope": "User.Read openid profile",
            "expires_in": 3600,
            "access_token": "fake-access-token",
            "id_token": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
            "client_info": _b64(client_info),
        }


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _json(status: int, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _handler(login: FakeLogin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def _reply(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, headers, payload = login.answer(
                method, url.path, dict(parse_qsl(url.query)), dict(parse_qsl(body))
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler

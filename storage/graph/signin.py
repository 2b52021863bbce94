"""The Microsoft sign-in that binds a Slack account to an Entra user (R24), with msal.

Two ways, both in the tenant's cloud (R18) and against the tenant's own authority, so only its users
can sign in:
- in a browser (HTTP mode): the authorization-code flow with PKCE
  (`ConfidentialClientApplication.initiate_auth_code_flow` / `acquire_token_by_auth_code_flow`),
  the code posted back (`response_mode=form_post`); the flow waits in the database by its `state`
  for Microsoft's redirect to `/auth/microsoft/callback`, so whichever replica the redirect reaches
  finishes it, once;
- with a device code (Socket Mode, the local shell, or no public address): the person opens
  Microsoft's device login page and types a code (`PublicClientApplication.initiate_device_flow`);
  `poll()` asks the token endpoint once per pending sign-in (no blocking loop in msal).

The id token's `oid` is the Entra object id bound; its `tid` must be the tenant's. msal talks HTTP
through `LoginHttp` (httpx), which can send the login endpoints' requests to a local fake in tests.
Tokens are used for the claims of the id token only, then dropped: nothing is stored or logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Protocol

import httpx
import msal

from domain.access import SignedIn, SlackAccount
from domain.errors import DomainError
from domain.model import Cloud
from domain.ports import Clock
from domain.transactions import forbid_remote_call

__all__ = ["LoginHttp", "MicrosoftSignIn", "SignInConfig", "SignInFailed", "SignInFlows"]

log = logging.getLogger(__name__)

SCOPES = ["User.Read"]
"""Only to sign the person in: msal adds `openid profile offline_access`; the id token says who."""

BROWSER_FLOW_TTL = timedelta(minutes=10)
_PENDING = frozenset({"authorization_pending", "slow_down"})


class SignInFailed(DomainError):
    """R24: the Microsoft sign-in did not say who signed in; nothing was bound."""

    rule = "R24"


class SignInFlows(Protocol):
    """Browser sign-ins waiting for the redirect, by `state` (`storage.access.SqlSignInFlows`)."""

    def add(
        self, state: str, slack_user_id: str, account: dict[str, Any], flow: dict[str, Any], expires_at: Any
    ) -> None: ...

    def take(self, state: str, now: Any) -> tuple[dict[str, Any], dict[str, Any]] | None: ...


@dataclass(frozen=True, slots=True)
class SignInConfig:
    tenant_id: str
    client_id: str
    cloud: Cloud = Cloud.WORLDWIDE
    login_url: str = ""
    """Another login endpoint than the cloud's: an https address is the authority; an http one (a
    local fake) receives the requests meant for the cloud's login host."""
    client_secret: str = ""
    redirect_uri: str = ""
    """`{PUBLIC_URL}/auth/microsoft/callback`: with a client secret, sign-ins go through the browser."""
    timeout_seconds: float = 30.0

    @property
    def authority(self) -> str:
        base = self.login_url if self.login_url.startswith("https://") else self.cloud.login_authority
        return f"{base.rstrip('/')}/{self.tenant_id}"

    @property
    def in_browser(self) -> bool:
        return bool(self.redirect_uri and self.client_secret)


class LoginHttp:
    """msal's HTTP client (its `get` and `post`) on httpx. Requests for `public` (the cloud's login
    host) go to `actual` when given: a local fake of the login endpoints."""

    def __init__(self, public: str, actual: str = "", timeout: float = 30.0) -> None:
        self._public = public.rstrip("/")
        self._actual = actual.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        **_: Any,
    ) -> httpx.Response:
        return self._client.get(self._route(url), params=dict(params or {}), headers=dict(headers or {}))

    def post(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        **_: Any,
    ) -> httpx.Response:
        request_headers = dict(headers or {})
        if isinstance(data, str):
            request_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            return self._client.post(
                self._route(url), params=dict(params or {}), content=data, headers=request_headers
            )
        return self._client.post(
            self._route(url), params=dict(params or {}), data=data, headers=request_headers
        )

    def close(self) -> None:
        self._client.close()

    def _route(self, url: str) -> str:
        forbid_remote_call("the Microsoft sign-in endpoints")
        if self._actual and url.startswith(self._public):
            return self._actual + url[len(self._public) :]
        return url


Completed = Callable[[SlackAccount, SignedIn], None]
Failed = Callable[[SlackAccount, str], None]


class MicrosoftSignIn:
    """`domain.access.SignIn`: starts a sign-in; `completed` binds and tells the person."""

    def __init__(
        self,
        config: SignInConfig,
        flows: SignInFlows,
        clock: Clock,
        *,
        completed: Completed,
        failed: Failed,
        http: LoginHttp | None = None,
    ) -> None:
        self._config = config
        self._flows = flows
        self._clock = clock
        self._completed = completed
        self._failed = failed
        self._http = http or LoginHttp(config.cloud.login_authority, config.login_url, config.timeout_seconds)
        self._lock = threading.Lock()
        self._pending: list[tuple[SlackAccount, dict[str, Any]]] = []
        self._public: msal.PublicClientApplication | None = None
        self._confidential: msal.ConfidentialClientApplication | None = None

    # --- starting --------------------------------------------------------------------------------

    def start(self, account: SlackAccount) -> str:
        if self._config.in_browser:
            return self._start_in_browser(account)
        return self._start_with_code(account)

    def _start_in_browser(self, account: SlackAccount) -> str:
        # form_post: the code comes back in a POST body, never in a URL (history, logs, referrers).
        flow = self._app().initiate_auth_code_flow(
            SCOPES, redirect_uri=self._config.redirect_uri, prompt="select_account", response_mode="form_post"
        )
        self._flows.add(
            str(flow["state"]),
            account.user_id,
            asdict(account),
            dict(flow),
            self._clock.now() + BROWSER_FLOW_TTL,
        )
        minutes = int(BROWSER_FLOW_TTL.total_seconds() // 60)
        return (
            f"Open {flow['auth_uri']} (valid {minutes} minutes) and sign in with your Microsoft 365 "
            "admin account."
        )

    def _start_with_code(self, account: SlackAccount) -> str:
        now = self._clock.now().timestamp()
        with self._lock:
            waiting = next(
                (
                    f
                    for a, f in self._pending
                    if a.user_id == account.user_id and float(f.get("expires_at", 0)) > now + 60
                ),
                None,
            )
        # The same person asking again (another command, App Home) gets the code already given.
        flow = waiting or self._public_app().initiate_device_flow(scopes=SCOPES)
        if "user_code" not in flow:
            raise SignInFailed(
                "Microsoft did not start a sign-in "
                f"({flow.get('error') or 'no code'}: {_first_line(flow.get('error_description'))}).",
                "Try again in a minute; if it keeps failing, ask whoever runs licensebot to check "
                "that the app registration allows public client flows.",
            )
        if waiting is None:
            with self._lock:
                self._pending = [(a, f) for a, f in self._pending if a.user_id != account.user_id]
                self._pending.append((account, dict(flow)))
        minutes = max(1, int(float(flow.get("expires_at", now)) - now) // 60)
        return (
            f"Go to {flow['verification_uri']} and enter the code `{flow['user_code']}` (valid "
            f"{minutes} minutes), signing in with your Microsoft 365 admin account."
        )

    # --- finishing ---------------------------------------------------------------------------------

    def finish_in_browser(self, params: Mapping[str, str]) -> SignedIn:
        """Microsoft's redirect came back (its query parameters): bind who signed in."""
        taken = self._flows.take(str(params.get("state") or ""), self._clock.now())
        if taken is None:
            raise SignInFailed(
                "This sign-in link has expired or was already used.",
                "Run your command in Slack again for a new one.",
            )
        account_fields, flow = taken
        account = SlackAccount(**account_fields)
        result = self._app().acquire_token_by_auth_code_flow(flow, dict(params))
        return self._finish(account, result)

    @property
    def in_browser(self) -> bool:
        """Sign-ins go through the browser (a redirect to this process), not a device code."""
        return self._config.in_browser

    @property
    def waiting(self) -> int:
        """Device-code sign-ins still waiting for the person."""
        with self._lock:
            return len(self._pending)

    def poll(self) -> int:
        """Ask once for each device-code sign-in; those done are bound. How many still wait."""
        with self._lock:
            pending = list(self._pending)
        still: list[tuple[SlackAccount, dict[str, Any]]] = []
        for account, flow in pending:
            result = self._public_app().acquire_token_by_device_flow(flow, exit_condition=lambda _: True)
            if (
                result.get("error") in _PENDING
                and float(flow.get("expires_at", 0)) > self._clock.now().timestamp()
            ):
                still.append((account, flow))
                continue
            try:
                self._finish(account, result)
            except SignInFailed as failure:
                self._failed(account, failure.message)
        with self._lock:
            started_meanwhile = [p for p in self._pending if all(p[1] is not f for _, f in pending)]
            self._pending = still + started_meanwhile
            return len(self._pending)

    def _finish(self, account: SlackAccount, result: Mapping[str, Any]) -> SignedIn:
        claims = result.get("id_token_claims") or {}
        if "error" in result or not claims.get("oid"):
            error = str(result.get("error") or "no id token")
            log.info("a Microsoft sign-in did not complete: %s", error)
            raise SignInFailed(
                f"The Microsoft sign-in did not complete ({error}: "
                f"{_first_line(result.get('error_description'))}). Nothing was bound.",
                "Run your command in Slack again to start a new sign-in.",
            )
        tenant = str(claims.get("tid") or "")
        if _is_guid(self._config.tenant_id) and tenant.casefold() != self._config.tenant_id.casefold():
            raise SignInFailed(
                "You signed in with an account of another Microsoft 365 organization. Nothing was bound.",
                "Sign in with your admin account of this organization.",
            )
        who = SignedIn(
            object_id=str(claims["oid"]),
            user_principal_name=str(claims.get("preferred_username") or claims.get("upn") or claims["oid"]),
        )
        self._completed(account, who)
        return who

    # --- msal applications ----------------------------------------------------------------------------

    def _app(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._confidential is None:
                self._confidential = msal.ConfidentialClientApplication(
                    self._config.client_id,
                    client_credential=self._config.client_secret,
                    authority=self._config.authority,
                    http_client=self._http,
                    instance_discovery=False,
                )
            return self._confidential

    def _public_app(self) -> msal.PublicClientApplication:
        with self._lock:
            if self._public is None:
                self._public = msal.PublicClientApplication(
                    self._config.client_id,
                    authority=self._config.authority,
                    http_client=self._http,
                    instance_discovery=False,
                )
            return self._public


def _first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else "no details"


def _is_guid(text: str) -> bool:
    parts = text.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
        c in "0123456789abcdefABCDEF" for c in text.replace("-", "")
    )

"""Who may act for whom (R24), wired from `Settings`: by Slack email, or by a Microsoft sign-in.

With `ADMIN_BINDING=entra` the sign-in runs in the tenant's cloud against the tenant's authority
(`GRAPH_TENANT_ID`, `M365_CLOUD`, `GRAPH_LOGIN_URL`), with the app registration `SIGN_IN_CLIENT_ID`
(else `GRAPH_CLIENT_ID`). With a client secret and `PUBLIC_URL`, a person signs in in the browser
(authorization code with PKCE; Microsoft redirects to `/auth/microsoft/callback`); otherwise with a
device code, which a background thread checks every `SIGN_IN_POLL_SECONDS` while any waits.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import ConfigurationError, Settings
from domain.access import Access, AdminBinding, EntraStanding, SignedIn, SlackAccount
from domain.application.authorization import Authorization
from domain.model import AdminRole, User
from domain.ports import Clock, TenantDirectory
from handlers.admission import SignInNotices
from storage.access import SqlBindingStore, SqlSignInFlows
from storage.graph.signin import LoginHttp, MicrosoftSignIn, SignInConfig

__all__ = ["CALLBACK_PATH", "SignInPoller", "build_access", "sign_in_config"]

log = logging.getLogger(__name__)

CALLBACK_PATH = "/auth/microsoft/callback"


@dataclass(frozen=True)
class Wired:
    access: Access
    sign_in: MicrosoftSignIn | None


def sign_in_config(settings: Settings) -> SignInConfig:
    client_id = settings.sign_in_client_id or settings.graph_client_id
    if not settings.graph_tenant_id or not client_id:
        raise ConfigurationError(
            "ADMIN_BINDING=entra needs GRAPH_TENANT_ID and SIGN_IN_CLIENT_ID (or GRAPH_CLIENT_ID): the "
            "tenant and the app registration people sign in to."
        )
    secret = (settings.sign_in_client_secret or settings.graph_client_secret).get_secret_value()
    public = settings.public_url.rstrip("/")
    if public and not public.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ConfigurationError("PUBLIC_URL must be an https address (Microsoft redirects there).")
    return SignInConfig(
        tenant_id=settings.graph_tenant_id,
        client_id=client_id,
        cloud=settings.m365_cloud,
        login_url=settings.graph_login_url,
        client_secret=secret,
        redirect_uri=f"{public}{CALLBACK_PATH}" if public and secret else "",
        timeout_seconds=settings.graph_timeout_seconds,
    )


def build_access(
    settings: Settings,
    *,
    authorization: Authorization,
    directory: TenantDirectory,
    sessions: sessionmaker[Session],
    clock: Clock,
    slack: WebClient | None,
    http: LoginHttp | None = None,
) -> Wired:
    """`Access` as configured; with `ADMIN_BINDING=entra`, the sign-in that binds (told to people in
    Slack through `slack`)."""
    if settings.admin_binding is AdminBinding.EMAIL:
        return Wired(Access(authorization.refuse), None)
    holder: list[Access] = []
    notices = SignInNotices(slack)

    def completed(account: SlackAccount, who: SignedIn) -> None:
        holder[0].signed_in(account, who)
        notices.signed_in(account.user_id, who.user_principal_name)

    sign_in = MicrosoftSignIn(
        sign_in_config(settings),
        SqlSignInFlows(sessions),
        clock,
        completed=completed,
        failed=lambda account, why: notices.failed(account.user_id, why),
        http=http,
    )
    access = Access(
        authorization.refuse,
        bindings=SqlBindingStore(sessions),
        sign_in=sign_in,
        standing=_standing(directory),
        clock=clock,
    )
    holder.append(access)
    return Wired(access, sign_in)


def _standing(directory: TenantDirectory) -> EntraStanding:
    """The bound Entra user as the tenant shows them now, with their roles (read with no
    transaction open, like every tenant read)."""

    def standing(object_id: str) -> tuple[User | None, frozenset[AdminRole]]:
        user = directory.user(object_id)
        return user, directory.admin_roles(user.id) if user is not None else frozenset()

    return standing


class SignInPoller:
    """Checks the device-code sign-ins every `interval` seconds while any waits, on its own thread."""

    def __init__(self, sign_in: MicrosoftSignIn, interval: float) -> None:
        self._sign_in = sign_in
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sign-in-poller", daemon=True)

    def start(self) -> SignInPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 1)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._sign_in.waiting:
                continue
            try:
                self._sign_in.poll()
            except Exception:  # a failed check must not end the thread; the next one tries again
                log.exception("checking the Microsoft sign-ins failed")

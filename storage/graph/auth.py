"""Access tokens for Microsoft Graph: msal client credentials (secret or certificate), or a given token.

Tokens are secrets: they are never logged, never part of a repr or an error message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import msal

from domain.errors import DirectoryUnavailable
from storage.graph.config import GraphConfig
from storage.graph.errors import GraphSignInFailed

__all__ = [
    "ConfidentialApp",
    "ConfidentialAppFactory",
    "MsalTokenProvider",
    "StaticTokenProvider",
    "TokenProvider",
    "msal_app",
    "token_provider",
]

log = logging.getLogger(__name__)


class TokenProvider(Protocol):
    def token(self) -> str:
        """A valid bearer token for Graph (cached by the provider)."""
        ...


class StaticTokenProvider:
    """A token obtained elsewhere (`GRAPH_ACCESS_TOKEN`); it is not refreshed."""

    def __init__(self, access_token: str) -> None:
        if not access_token.strip():
            raise ValueError("An empty access token cannot authenticate anything.")
        self._token = access_token.strip()

    def token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return "StaticTokenProvider(<token hidden>)"


class ConfidentialApp(Protocol):
    """The part of `msal.ConfidentialClientApplication` used here."""

    def acquire_token_for_client(self, scopes: list[str]) -> Mapping[str, Any]: ...


ConfidentialAppFactory = Callable[[str, str | dict[str, str], str], ConfidentialApp]
"""(client id, client credential, authority) → app; tests inject one, since building a real msal app
already talks to the login endpoint."""


def msal_app(client_id: str, credential: str | dict[str, str], authority: str) -> ConfidentialApp:
    app: ConfidentialApp = msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority=authority
    )
    return app


class MsalTokenProvider:
    """Client credentials flow: the app's own token for `{graph}/.default`, cached by msal until it
    nearly expires (msal ≥ 1.23 looks in its cache before asking the login endpoint)."""

    def __init__(self, config: GraphConfig, app_factory: ConfidentialAppFactory = msal_app) -> None:
        if config.access_token:
            raise ValueError("A given access token needs StaticTokenProvider, not msal.")
        self._config = config
        self._factory = app_factory
        self._app: ConfidentialApp | None = None
        self._lock = threading.Lock()

    @property
    def authority(self) -> str:
        return self._config.authority

    @property
    def scopes(self) -> list[str]:
        return [self._config.scope]

    def _credential(self) -> str | dict[str, str]:
        certificate = self._config.certificate
        if certificate is None:
            return self._config.client_secret or ""
        try:
            private_key = certificate.private_key_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GraphSignInFailed(
                f"the certificate file {certificate.private_key_path} cannot be read ({exc.strerror})"
            ) from exc
        credential = {"private_key": private_key, "thumbprint": certificate.thumbprint}
        if certificate.passphrase:
            credential["passphrase"] = certificate.passphrase
        return credential

    def _application(self) -> ConfidentialApp:
        with self._lock:
            if self._app is None:
                self._app = self._factory(self._config.client_id, self._credential(), self.authority)
            return self._app

    def token(self) -> str:
        try:
            result = self._application().acquire_token_for_client(scopes=self.scopes)
        except (OSError, ValueError) as exc:
            # msal's own HTTP client raises requests' ConnectionError (an OSError) when offline.
            raise DirectoryUnavailable(f"the login endpoint {self.authority} did not answer") from exc
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        error = str(result.get("error") or "no token")
        description = str(result.get("error_description") or "").strip().splitlines()
        log.warning("Graph sign-in failed: %s", error)
        raise GraphSignInFailed(f"{error}: {description[0]}" if description else error)

    def __repr__(self) -> str:
        return f"MsalTokenProvider(authority={self.authority!r}, scopes={self.scopes!r})"


def token_provider(
    config: GraphConfig, app_factory: ConfidentialAppFactory = msal_app
) -> StaticTokenProvider | MsalTokenProvider:
    """The provider for the configured credential."""
    if config.access_token:
        return StaticTokenProvider(config.access_token)
    return MsalTokenProvider(config, app_factory)

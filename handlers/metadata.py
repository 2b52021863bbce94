"""A form's `private_metadata`, sealed with an HMAC so that a changed one is detected and refused.

Slack hands `private_metadata` back as the app set it, but it is the one part of a submission that
says which channel to answer in and whose form it is: anything that forges or edits it (a replayed
payload, a buggy client, another app) must not make licensebot act on something it never offered.
The key is derived from the signing secret for this one purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from domain.errors import DomainError

__all__ = ["FormSeal", "TamperedForm"]

_PURPOSE = b"licensebot private_metadata v1"
_DIGEST_CHARS = 43  # base16 of 172 bits: plenty against forgery, short within Slack's 3,000 characters


class TamperedForm(DomainError):
    """The form came back with metadata licensebot did not write: nothing is done with it."""

    def __init__(self) -> None:
        super().__init__(
            "This form came back changed outside Slack, so licensebot did nothing with it.",
            "Open a new one with `/license` (or `/license services @user PRODUCT`) and fill it in again.",
        )


class FormSeal:
    """Seals a small mapping of strings into `private_metadata`, and opens it again."""

    def __init__(self, signing_secret: str) -> None:
        if not signing_secret:
            raise ValueError("a signing secret is needed to seal forms")
        self._key = hmac.new(signing_secret.encode(), _PURPOSE, hashlib.sha256).digest()

    def seal(self, data: Mapping[str, str]) -> str:
        payload = json.dumps(dict(data), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return f"{self._digest(payload)}.{payload}"

    def open(self, sealed: str, *, user_id: str) -> dict[str, str]:
        """The sealed mapping; `TamperedForm` when the seal does not match or the form was opened
        for someone else (its `user` is not the person submitting it)."""
        digest, _, payload = sealed.partition(".")
        if not hmac.compare_digest(digest.encode(), self._digest(payload).encode()):
            raise TamperedForm
        try:
            data = json.loads(payload)
        except ValueError:
            raise TamperedForm from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise TamperedForm
        if data.get("user") != user_id:
            raise TamperedForm
        return {str(key): str(value) for key, value in data.items()}

    def _digest(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:_DIGEST_CHARS]

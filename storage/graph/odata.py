"""OData URL pieces for Graph: literals, GUIDs, paths and query strings, safely quoted."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, urlencode

__all__ = ["EVENTUAL", "LARGEST_PAGE", "is_guid", "relative_url", "string_literal", "user_path"]

_QUERY_SAFE = "$,:()'/"

EVENTUAL: Final = {"ConsistencyLevel": "eventual"}
"""The header of an advanced query (with `$count=true`)."""
LARGEST_PAGE: Final = "999"
"""The largest page Graph serves for users."""


def string_literal(value: str) -> str:
    """An OData string literal: single quotes around, a quote inside doubled (`O'Neil` → `'O''Neil'`)."""
    return "'" + value.replace("'", "''") + "'"


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def user_path(key: str) -> str:
    """`/users/{id | userPrincipalName}` with the key percent-encoded (`#EXT#` guests, `/`, `?`)."""
    return "/users/" + quote(key, safe="@")


def relative_url(path: str, params: Mapping[str, str] | None = None) -> str:
    """A path below the version root with its query, usable as is and inside `$batch`.

    Spaces become %20 (not `+`), and the OData punctuation stays readable.
    """
    if not params:
        return path
    return f"{path}?{urlencode(dict(params), quote_via=quote, safe=_QUERY_SAFE)}"

"""The OData query options the simulated Graph API serves: `$select`, `$top`, `$skiptoken` paging with
`@odata.nextLink`, `$count`, and the `@odata.context` of an answer."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote, urlencode

from storage.graph_sim.messages import ApiRequest, ApiResponse, Refusal, ok

__all__ = ["MAX_TOP", "Pager", "context", "pick", "selected_names"]

MAX_TOP: Final = 999


class Pager:
    """Pages of a collection: at most `page_size` items, fewer when `$top` or the collection asks."""

    def __init__(self, page_size: int) -> None:
        if not 1 <= page_size <= MAX_TOP:
            raise ValueError(f"page size must be 1..{MAX_TOP}, not {page_size}")
        self._page_size = page_size

    def window(self, request: ApiRequest, total: int, largest: int = MAX_TOP) -> tuple[int, int]:
        """The slice of a collection of `total` items this request's page holds (`$top`, at most
        `largest` per page, and `$skiptoken`)."""
        size = min(self._page_size, largest)
        top = request.query.get("$top")
        if top is not None:
            if not top.isdigit() or not 1 <= int(top) <= MAX_TOP:
                raise Refusal(
                    400,
                    "Request_UnsupportedQuery",
                    f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive.",
                )
            size = min(size, int(top))
        start = _skip(request.query.get("$skiptoken"))
        return start, min(start + size, total)

    def page(
        self,
        request: ApiRequest,
        items: list[dict[str, Any]],
        context: str,
        *,
        window: tuple[int, int, int] | None = None,
    ) -> ApiResponse:
        """One page of `items`; with `window` (start, end, total), `items` is that page already."""
        if window is None:
            start, end = self.window(request, len(items))
            total, page = len(items), items[start:end]
        else:
            (start, end, total), page = window, items
        size = end - start
        body: dict[str, Any] = {"@odata.context": context}
        if request.query.get("$count") == "true":
            body["@odata.count"] = total
        body["value"] = page
        if end < total:
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode()
            body["@odata.nextLink"] = f"{request.base_url}{request.path}?{_encode(query)}"
        return ok(body)


def _encode(query: Mapping[str, str]) -> str:
    return urlencode(dict(query), quote_via=quote, safe="$,:()'/")


def context(
    request: ApiRequest, entity_set: str, selected: Sequence[str] | None, *, entity: bool = False
) -> str:
    select = f"({','.join(selected)})" if selected else ""
    return f"{request.base_url}/$metadata#{entity_set}{select}{'/$entity' if entity else ''}"


def selected_names(request: ApiRequest, properties: frozenset[str], type_name: str) -> list[str] | None:
    raw = request.query.get("$select")
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    for name in names:
        if name not in properties:
            raise Refusal(
                400,
                "BadRequest",
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.",
            )
    return names


def pick(item: Mapping[str, Any], names: Sequence[str] | None) -> dict[str, Any]:
    if not names:
        return dict(item)
    return {name: item[name] for name in names if name in item}


def _skip(token: str | None) -> int:
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    label, _, offset = text.partition(":")
    if label != "offset" or not offset.isdigit():
        raise Refusal(400, "Request_BadRequest", "The specified page token value has expired or is invalid.")
    return int(offset)

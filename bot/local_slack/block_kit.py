"""Block Kit checks: the subset of Slack's schema that bots get wrong in practice, with Slack's own
error texts (``invalid_blocks``, ``invalid_arguments`` with json-pointers), and the ids Slack fills in."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "MESSAGE_MAX_BLOCKS",
    "VIEW_MAX_BLOCKS",
    "VIEW_TITLE_MAX_CHARS",
    "block_problems",
    "find_element",
    "interactive_elements",
    "short_id",
    "view_problems",
    "with_ids",
]

# Slack's documented limits.
MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
VIEW_TITLE_MAX_CHARS = 24

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_OPTION_ELEMENTS = frozenset(
    {
        "static_select",
        "multi_static_select",
        "overflow",
        "checkboxes",
        "radio_buttons",
    }
)


# ---------------------------------------------------------------------------------------------
# Records (immutable snapshots; the workspace replaces them when something changes)
# ---------------------------------------------------------------------------------------------


def _text_problems(obj: Any, ptr: str, max_chars: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
        return [f"must provide a text object [json-pointer:{ptr}]"]
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in allowed:
        return [f"must be one of {', '.join(allowed)} [json-pointer:{ptr}/type]"]
    length = len(obj["text"])
    if length == 0:
        return [f"must be more than 0 characters [json-pointer:{ptr}/text]"]
    if length > max_chars:
        return [f"must be less than {max_chars + 1} characters [json-pointer:{ptr}/text]"]
    return []


def _length_problems(value: Any, ptr: str, max_chars: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [f"must be a string [json-pointer:{ptr}]"]
    if len(value) > max_chars:
        return [f"must be less than {max_chars + 1} characters [json-pointer:{ptr}]"]
    return []


def _element_problems(element: Any, ptr: str) -> list[str]:
    if not isinstance(element, Mapping) or not isinstance(element.get("type"), str):
        return [f"missing required field: type [json-pointer:{ptr}]"]
    kind = element["type"]
    problems = _length_problems(element.get("action_id"), f"{ptr}/action_id", 255)
    if kind == "button":
        problems += _text_problems(element.get("text"), f"{ptr}/text", 75, plain_only=True)
        problems += _length_problems(element.get("value"), f"{ptr}/value", 2000)
        problems += _length_problems(element.get("url"), f"{ptr}/url", 3000)
        if element.get("style") not in (None, "primary", "danger"):
            problems.append(f"must be one of primary, danger [json-pointer:{ptr}/style]")
    if "placeholder" in element:
        problems += _text_problems(element["placeholder"], f"{ptr}/placeholder", 150, plain_only=True)
    if kind in _OPTION_ELEMENTS:
        options = element.get("options")
        groups = element.get("option_groups")
        if options is None and groups is None:
            problems.append(f"must provide options or option_groups [json-pointer:{ptr}]")
        elif isinstance(options, list):
            if len(options) > 100:
                problems.append(f"no more than 100 items allowed [json-pointer:{ptr}/options]")
            plain_only = kind not in ("checkboxes", "radio_buttons")
            for i, option in enumerate(options):
                optr = f"{ptr}/options/{i}"
                if not isinstance(option, Mapping):
                    problems.append(f"must be an option object [json-pointer:{optr}]")
                    continue
                problems += _text_problems(option.get("text"), f"{optr}/text", 75, plain_only=plain_only)
                problems += _length_problems(option.get("value"), f"{optr}/value", 150)
    return problems


def _section_problems(block: Mapping[str, Any], ptr: str) -> list[str]:
    problems: list[str] = []
    if "text" not in block and "fields" not in block:
        problems.append(f"must provide either text or fields [json-pointer:{ptr}]")
    if "text" in block:
        problems += _text_problems(block["text"], f"{ptr}/text", 3000)
    fields = block.get("fields")
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > 10:
            problems.append(f"no more than 10 items allowed [json-pointer:{ptr}/fields]")
        else:
            for i, item in enumerate(fields):
                problems += _text_problems(item, f"{ptr}/fields/{i}", 2000)
    if "accessory" in block:
        problems += _element_problems(block["accessory"], f"{ptr}/accessory")
    return problems


def _elements_problems(block: Mapping[str, Any], ptr: str, most: int, *, interactive: bool) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"must provide at least 1 item [json-pointer:{ptr}/elements]"]
    if len(elements) > most:
        return [f"no more than {most} items allowed [json-pointer:{ptr}/elements]"]
    if not interactive:
        return []
    problems: list[str] = []
    for i, element in enumerate(elements):
        problems += _element_problems(element, f"{ptr}/elements/{i}")
    return problems


def _block_kind_problems(block: Mapping[str, Any], ptr: str) -> list[str]:
    kind = block["type"]
    if kind == "section":
        return _section_problems(block, ptr)
    if kind == "header":
        return _text_problems(block.get("text"), f"{ptr}/text", 150, plain_only=True)
    if kind == "context":
        return _elements_problems(block, ptr, 10, interactive=False)
    if kind == "actions":
        return _elements_problems(block, ptr, 25, interactive=True)
    if kind == "input":
        problems = _text_problems(block.get("label"), f"{ptr}/label", 2000, plain_only=True)
        if "element" not in block:
            problems.append(f"missing required field: element [json-pointer:{ptr}]")
        else:
            problems += _element_problems(block["element"], f"{ptr}/element")
        return problems
    if kind == "image":
        problems = _length_problems(block.get("alt_text"), f"{ptr}/alt_text", 2000)
        if not block.get("alt_text"):
            problems.append(f"missing required field: alt_text [json-pointer:{ptr}]")
        return problems
    return []


def block_problems(blocks: list[Any], ptr: str, most: int) -> list[str]:
    problems: list[str] = []
    if len(blocks) > most:
        problems.append(f"no more than {most} items allowed [json-pointer:{ptr}]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        bptr = f"{ptr}/{i}"
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            problems.append(f"missing required field: type [json-pointer:{bptr}]")
            continue
        if block["type"] not in _BLOCK_TYPES:
            problems.append(f"unsupported type: {block['type']} [json-pointer:{bptr}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            problems += _length_problems(block_id, f"{bptr}/block_id", 255)
            if block_id in seen:
                problems.append(f"duplicate block_id: {block_id} [json-pointer:{bptr}/block_id]")
            seen.add(str(block_id))
        problems += _block_kind_problems(block, bptr)
    return problems


def interactive_elements(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if block.get("type") == "actions":
        yield from (e for e in block.get("elements") or [] if isinstance(e, dict))
    for key in ("accessory", "element"):
        if isinstance(block.get(key), dict):
            yield block[key]


def short_id(seed: int) -> str:
    return hashlib.blake2s(str(seed).encode(), digest_size=3).hexdigest()


def find_element(
    blocks: Sequence[Mapping[str, Any]], action_id: str, block_id: str | None
) -> tuple[str, dict[str, Any]] | None:
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        for element in interactive_elements(dict(block)):
            if element.get("action_id") == action_id:
                return str(block.get("block_id")), element
    return None


# ---------------------------------------------------------------------------------------------
# The workspace


def with_ids(blocks: list[Any], seeds: Iterator[int]) -> list[dict[str, Any]]:
    """A copy of ``blocks`` with the block_id and action_id Slack adds when they are absent."""
    filled: list[dict[str, Any]] = copy.deepcopy(blocks)
    for block in filled:
        block.setdefault("block_id", short_id(next(seeds)))
        for element in interactive_elements(block):
            element.setdefault("action_id", short_id(next(seeds)))
    return filled


def view_problems(raw: Mapping[str, Any], kind: str) -> tuple[list[str], list[Any]]:
    """What is wrong with a ``view`` argument of type ``kind``, and its blocks (``[]`` if missing)."""
    problems: list[str] = []
    if raw.get("type") != kind:
        problems.append(f"must be {kind} [json-pointer:/view/type]")
    blocks = raw.get("blocks")
    if not isinstance(blocks, list):
        problems.append("missing required field: blocks [json-pointer:/view]")
        blocks = []
    problems += block_problems(blocks, "/view/blocks", VIEW_MAX_BLOCKS)
    if kind == "modal":
        if "title" not in raw:
            problems.append("missing required field: title [json-pointer:/view]")
        for key in ("title", "submit", "close"):
            if raw.get(key) is not None:
                problems += _text_problems(raw[key], f"/view/{key}", VIEW_TITLE_MAX_CHARS, plain_only=True)
        has_inputs = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
        if has_inputs and raw.get("submit") is None:
            problems.append("must provide submit when using input blocks [json-pointer:/view]")
    problems += _length_problems(raw.get("private_metadata"), "/view/private_metadata", 3000)
    problems += _length_problems(raw.get("callback_id"), "/view/callback_id", 255)
    problems += _length_problems(raw.get("external_id"), "/view/external_id", 255)
    return problems, blocks

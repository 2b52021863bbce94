"""What a submitted form says, as small frozen values, and which field a refusal belongs to.

Pure functions over the `view` of a `view_submission` (its blocks as licensebot built them and its
`state.values` as the person left them). Slack shows errors under the field they name, so each
domain refusal is mapped to the field the person has to change (`field_of`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from domain.changes import ChangeKind
from domain.errors import (
    AmbiguousProduct,
    AmbiguousUser,
    DomainError,
    NotAssignable,
    NotEnoughSeats,
    NothingToChange,
    NoUsageLocation,
    OutsideOrganization,
    ServicePlanConflict,
    UnknownProduct,
    UnknownRequester,
    UnknownServicePlan,
    UnknownUser,
)
from handlers.blocks.modals import MODES
from handlers.ids import (
    FORM_MODE,
    FORM_MODE_BLOCK,
    FORM_PRODUCT,
    FORM_PRODUCT_BLOCK,
    FORM_SERVICES,
    FORM_SERVICES_BLOCK,
    FORM_USERS,
    FORM_USERS_BLOCK,
)

__all__ = [
    "FormErrors",
    "LicenseForm",
    "ServicesForm",
    "field_of",
    "read_license_form",
    "read_services_form",
    "services_field",
]

_ERROR_LIMIT = 300

_USERS_ERRORS = (
    NoUsageLocation,
    OutsideOrganization,
    UnknownUser,
    AmbiguousUser,
    NothingToChange,
    UnknownRequester,
)
_PRODUCT_ERRORS = (NotEnoughSeats, NotAssignable, UnknownProduct, AmbiguousProduct)
_SERVICES_ERRORS = (ServicePlanConflict, UnknownServicePlan)


class FormErrors(Exception):
    """Fields to correct: block id → what is wrong, as Slack's `response_action: errors` takes them."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = {block: message[:_ERROR_LIMIT] for block, message in errors.items()}


@dataclass(frozen=True, slots=True)
class LicenseForm:
    """The `/license` form: who, which product (sku id), what to do, and the services ticked."""

    user_ids: tuple[str, ...]
    """Slack user ids."""
    product: str
    kind: ChangeKind
    turn_on: tuple[str, ...] = ()
    turn_off: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServicesForm:
    """The services form: only what the person changed (R5 keeps the rest)."""

    turn_on: tuple[str, ...]
    turn_off: tuple[str, ...]


def read_license_form(view: Mapping[str, Any]) -> LicenseForm:
    """The submitted `/license` form; `FormErrors` for a field left empty."""
    values = _values(view)
    user_ids = tuple(
        dict.fromkeys(
            str(u) for u in _state(values, FORM_USERS_BLOCK, FORM_USERS).get("selected_users") or []
        )
    )
    product = _selected(values, FORM_PRODUCT_BLOCK, FORM_PRODUCT)
    mode = _selected(values, FORM_MODE_BLOCK, FORM_MODE) or ChangeKind.ASSIGN.value
    errors: dict[str, str] = {}
    if not user_ids:
        errors[FORM_USERS_BLOCK] = "Choose at least one person."
    if not product:
        errors[FORM_PRODUCT_BLOCK] = "Choose a product."
    kinds = {kind.value: kind for kind in MODES}
    if mode not in kinds:
        errors[FORM_MODE_BLOCK] = "Choose what to do: add, replace or remove."
    if errors:
        raise FormErrors(errors)
    offered, ticked = _services(view, values, product)
    kind = kinds[mode]
    if kind is ChangeKind.REMOVE:
        return LicenseForm(user_ids, product, kind)
    return LicenseForm(user_ids, product, kind, tuple(sorted(ticked)), tuple(sorted(offered - ticked)))


def read_services_form(view: Mapping[str, Any], product: str) -> ServicesForm:
    """What changed in the services form since it was opened (its ticks as licensebot set them)."""
    offered, ticked = _services(view, _values(view), product)
    were_on = {
        str(option.get("value"))
        for element in _service_elements(view, product)
        for option in element.get("initial_options") or []
    }
    turn_on = ticked - were_on
    turn_off = (offered - ticked) & were_on
    if not turn_on and not turn_off:
        raise FormErrors(
            {
                services_field(view, product)
                or FORM_SERVICES_BLOCK: "Nothing changed: tick or untick a service first."
            }
        )
    return ServicesForm(tuple(sorted(turn_on)), tuple(sorted(turn_off)))


def field_of(error: DomainError, view: Mapping[str, Any], product: str) -> str | None:
    """The block id of the field a refusal is about, or None when no field can fix it."""
    if isinstance(error, _USERS_ERRORS) and _has_block(view, FORM_USERS_BLOCK):
        return FORM_USERS_BLOCK
    if isinstance(error, _PRODUCT_ERRORS) and _has_block(view, FORM_PRODUCT_BLOCK):
        return FORM_PRODUCT_BLOCK
    if isinstance(error, _SERVICES_ERRORS):
        # R6: turn one of the two off here; with no services to untick, choose replace instead.
        services = services_field(view, product)
        if services is not None:
            return services
        if _has_block(view, FORM_MODE_BLOCK):
            return FORM_MODE_BLOCK
    if isinstance(error, NothingToChange):
        return services_field(view, product)
    return None


def services_field(view: Mapping[str, Any], product: str) -> str | None:
    """The first services block of the product, if the form has one."""
    prefix = f"{FORM_SERVICES_BLOCK}:{product}:"
    return next(
        (str(b["block_id"]) for b in _blocks(view) if str(b.get("block_id", "")).startswith(prefix)), None
    )


def _values(view: Mapping[str, Any]) -> Mapping[str, Any]:
    state = view.get("state") or {}
    values = state.get("values") if isinstance(state, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def _state(values: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    block = values.get(block_id)
    state = block.get(action_id) if isinstance(block, Mapping) else None
    return state if isinstance(state, Mapping) else {}


def _selected(values: Mapping[str, Any], block_id: str, action_id: str) -> str:
    option = _state(values, block_id, action_id).get("selected_option")
    return str(option.get("value") or "") if isinstance(option, Mapping) else ""


def _blocks(view: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from (b for b in view.get("blocks") or [] if isinstance(b, Mapping))


def _has_block(view: Mapping[str, Any], block_id: str) -> bool:
    return any(b.get("block_id") == block_id for b in _blocks(view))


def _service_elements(view: Mapping[str, Any], product: str) -> Iterator[Mapping[str, Any]]:
    prefix = f"{FORM_SERVICES_BLOCK}:{product}:"
    for block in _blocks(view):
        element = block.get("element")
        if str(block.get("block_id", "")).startswith(prefix) and isinstance(element, Mapping):
            yield element


def _services(
    view: Mapping[str, Any], values: Mapping[str, Any], product: str
) -> tuple[frozenset[str], frozenset[str]]:
    """The services offered for `product` (by the blocks licensebot built) and those ticked.

    Ticks of blocks that belong to another product (left over from before the product changed) and
    values that were never offered are ignored.
    """
    offered: set[str] = set()
    ticked: set[str] = set()
    prefix = f"{FORM_SERVICES_BLOCK}:{product}:"
    for block in _blocks(view):
        block_id = str(block.get("block_id", ""))
        element = block.get("element")
        if not block_id.startswith(prefix) or not isinstance(element, Mapping):
            continue
        action_id = str(element.get("action_id", ""))
        if not action_id.startswith(FORM_SERVICES):
            continue
        options = {str(option.get("value")) for option in element.get("options") or []}
        offered |= options
        chosen = _state(values, block_id, action_id).get("selected_options") or []
        ticked |= {str(option.get("value")) for option in chosen if isinstance(option, Mapping)} & options
    return frozenset(offered), frozenset(ticked)

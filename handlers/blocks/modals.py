"""Modals: the `/license` form, the services form, and the notices a form turns into.

Limits that shape them: at most 100 blocks, 10 checkboxes per group (so a product's services are
split into groups), 100 options in a select, 75 characters per option and 24 per title. Text from
the tenant goes into mrkdwn escaped, and into plain text through `plain`.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextObject,
    RadioButtonsElement,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from domain.application.results import UserServices
from domain.changes import ChangeKind
from domain.model import Product, ServicePlan
from handlers.blocks.message import Message, context, section
from handlers.blocks.text import (
    CHECKBOX_OPTIONS_LIMIT,
    OPTION_TEXT_LIMIT,
    SELECT_OPTIONS_LIMIT,
    VIEW_MAX_BLOCKS,
    VIEW_TITLE_LIMIT,
    clip,
    escape,
    plain,
    plural,
)
from handlers.ids import (
    FORM_MODE,
    FORM_MODE_BLOCK,
    FORM_PRODUCT,
    FORM_PRODUCT_BLOCK,
    FORM_SERVICES,
    FORM_SERVICES_BLOCK,
    FORM_USERS,
    FORM_USERS_BLOCK,
    LICENSE_FORM,
    SERVICES_FORM,
)

__all__ = [
    "MODES",
    "license_form",
    "loading_form",
    "notice_view",
    "services_block_id",
    "services_form",
]

MODES: dict[ChangeKind, str] = {
    ChangeKind.ASSIGN: "Add to what they have",
    ChangeKind.REPLACE: "Replace what they have (preview first)",
    ChangeKind.REMOVE: "Remove it (preview first)",
}
"""The form's modes, in order: what the radio buttons say."""

MAX_USERS = 100
"""People one form can name; more go through a user group or `has:` on the command line."""


def loading_form(title: str, callback_id: str, metadata: str) -> View:
    """Opened at once with the trigger id (valid 3 s), before the tenant is read; updated after."""
    return _modal(
        title,
        callback_id,
        metadata,
        [section(":hourglass_flowing_sand: Reading the tenant…")],
        submit=None,
    )


def notice_view(title: str, notice: Message) -> View:
    """A form replaced by a message: a refusal, a problem, or where the answer went."""
    blocks = list(notice.blocks) or [section(notice.text)]
    return _modal(title, "", "", blocks, submit=None, close="Close")


def license_form(products: Sequence[Product], metadata: str, *, chosen: Product | None = None) -> View:
    """Users, product (seats left in each label), add / replace / remove, and the chosen product's
    services as checkboxes (all ticked: untick what to turn off, R5)."""
    blocks: list[Block] = [
        section(
            "Choose the people, a product and what to do. Replace and remove show a preview to "
            "confirm first; adding applies at once."
        ),
        InputBlock(
            block_id=FORM_USERS_BLOCK,
            label="Users",
            element=UserMultiSelectElement(
                action_id=FORM_USERS, placeholder="Choose people", max_selected_items=MAX_USERS
            ),
            hint="For a whole team use /license replace @team E5 (user groups and has:E3 work there).",
        ),
        InputBlock(
            block_id=FORM_PRODUCT_BLOCK,
            label="Product",
            dispatch_action=True,
            element=StaticSelectElement(
                action_id=FORM_PRODUCT,
                placeholder="Choose a product",
                options=[_product_option(p) for p in _sorted(products)[:SELECT_OPTIONS_LIMIT]],
                initial_option=_product_option(chosen) if chosen is not None else None,
            ),
        ),
        InputBlock(
            block_id=FORM_MODE_BLOCK,
            label="What to do",
            element=RadioButtonsElement(
                action_id=FORM_MODE,
                options=[_mode_option(kind) for kind in MODES],
                initial_option=_mode_option(ChangeKind.ASSIGN),
            ),
        ),
    ]
    if chosen is None:
        blocks.append(context("Choose a product to see its services."))
    else:
        toggled = [plan for plan in chosen.service_plans if not plan.automatic]
        blocks += _service_blocks(chosen, toggled, on=frozenset(p.id for p in toggled))
        blocks.append(
            context("Unticked services are turned off for these users; when removing, they do not matter.")
        )
    return _modal("License change", LICENSE_FORM, metadata, blocks, submit="Continue")


def services_form(services: UserServices, metadata: str) -> View:
    """The user's services of one product, those on ticked; automatic ones listed apart (R5)."""
    user, product = services.user, services.product
    toggled = [plan for plan in product.service_plans if not plan.automatic]
    blocks: list[Block] = [
        section(
            f"*{escape(user.display_name)}* ({escape(user.user_principal_name)}) · "
            f"*{escape(product.display_name)}*\n"
            "Ticked services are on. Only what you change is changed; every other service stays as "
            "it is."
        )
    ]
    if toggled:
        blocks += _service_blocks(product, toggled, on=services.enabled_plans)
    else:
        blocks.append(section(f"No service of *{escape(product.display_name)}* can be turned off per user."))
    return _modal(
        "Services", SERVICES_FORM, metadata, blocks, submit="Save" if toggled else None, close="Cancel"
    )


def services_block_id(sku_id: str, group: int) -> str:
    return f"{FORM_SERVICES_BLOCK}:{sku_id}:{group}"


def _service_blocks(product: Product, toggled: Sequence[ServicePlan], *, on: frozenset[str]) -> list[Block]:
    groups = [toggled[i : i + CHECKBOX_OPTIONS_LIMIT] for i in range(0, len(toggled), CHECKBOX_OPTIONS_LIMIT)]
    blocks: list[Block] = []
    name = plain(product.display_name)
    for number, plans in enumerate(groups, start=1):
        label = f"Services of {name}" if number == 1 else f"Services of {name} ({number} of {len(groups)})"
        ticked = [_plan_option(plan) for plan in plans if plan.id in on]
        blocks.append(
            InputBlock(
                block_id=services_block_id(product.sku_id, number),
                label=clip(label, 2000),
                optional=True,
                element=CheckboxesElement(
                    action_id=f"{FORM_SERVICES}.{number}",
                    options=[_plan_option(plan) for plan in plans],
                    initial_options=ticked or None,
                ),
            )
        )
    automatic = [plan.display_name or plan.name for plan in product.service_plans if plan.automatic]
    if automatic:
        blocks.append(
            context(f"Always on, for the whole company, not per user: {escape(', '.join(automatic))}.")
        )
    return blocks


def _modal(
    title: str,
    callback_id: str,
    metadata: str,
    blocks: list[Block],
    *,
    submit: str | None,
    close: str = "Cancel",
) -> View:
    if len(blocks) > VIEW_MAX_BLOCKS:
        dropped = len(blocks) - (VIEW_MAX_BLOCKS - 1)
        blocks = [*blocks[: VIEW_MAX_BLOCKS - 1], context(f"… and {plural(dropped, 'more part')} not shown.")]
    return View(
        type="modal",
        callback_id=callback_id or None,
        title=PlainTextObject(text=clip(title, VIEW_TITLE_LIMIT)),
        submit=PlainTextObject(text=clip(submit, VIEW_TITLE_LIMIT)) if submit else None,
        close=PlainTextObject(text=clip(close, VIEW_TITLE_LIMIT)),
        blocks=blocks,
        private_metadata=metadata or None,
    )


def _sorted(products: Sequence[Product]) -> list[Product]:
    return sorted(products, key=lambda p: (not p.assignable_to_users, p.display_name.casefold()))


def _product_option(product: Product) -> Option:
    if product.assignable_to_users:
        label = f"{product.display_name} · {product.seats.available:,} free"
    else:
        label = f"{product.display_name} · for the company, not users"
    return Option(value=product.sku_id, text=PlainTextObject(text=clip(plain(label), OPTION_TEXT_LIMIT)))


def _mode_option(kind: ChangeKind) -> Option:
    return Option(value=kind.value, text=PlainTextObject(text=MODES[kind]))


def _plan_option(plan: ServicePlan) -> Option:
    name = plain(plan.display_name or plan.name)
    return Option(value=plan.id, text=PlainTextObject(text=clip(name, OPTION_TEXT_LIMIT)))

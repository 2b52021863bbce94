"""`/license show @user`: licenses with their display names, services turned off, assignment
errors (with the explanation and fix of the rule each one breaks) and the seats left per product."""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import Block

from domain.application.results import UserOverview
from domain.assignment_states import assignment_state_error
from domain.model import AssignmentError, LicenseAssignment, LicenseState, Product, User
from handlers.blocks.message import Message, context, header, message, section, sections
from handlers.blocks.text import clip, code, escape, plural, short_alias, shorten_list

__all__ = ["user_overview"]

_LINE_LIMIT = 900
_SHOWN_LICENSES = 40


def user_overview(overview: UserOverview) -> Message:
    user = overview.user
    name = escape(user.display_name)
    facts = [f"*{name}* · {escape(user.user_principal_name)}"]
    if user.usage_location:
        facts.append(f"Usage location: {escape(user.usage_location)}")
    else:
        facts.append(":warning: No usage location: no license can be assigned until one is set.")
    if not user.account_enabled:
        facts.append("Sign-in is blocked for this account.")
    blocks: list[Block] = [header("Licenses"), section("\n".join(facts))]
    licenses = sorted(user.licenses, key=lambda lic: _name(lic.sku_id, overview.products).casefold())
    if licenses:
        lines = [
            _license(lic, overview.products, _source(user, lic.sku_id, overview.groups)) for lic in licenses
        ]
        blocks += sections(shorten_list(lines, _SHOWN_LICENSES, "… and {n} more licenses"))
    else:
        blocks.append(section("No licenses."))
    group_errors = [
        AssignmentError(state.sku_id, state.error)
        for state in user.states
        if state.group_id and state.in_error
    ]
    if user.assignment_errors or group_errors:
        errors = [_assignment_error(user, e, overview.products) for e in user.assignment_errors]
        errors += [
            _group_error(user, state, overview) for state in user.states if state.group_id and state.in_error
        ]
        blocks += sections([":warning: *Assignment errors reported by Microsoft 365*", *errors])
    blocks.append(context("Seats left count every subscription of the product."))
    held = ", ".join(_name(lic.sku_id, overview.products) for lic in licenses) or "no licenses"
    return message(escape(f"{user.display_name}: {held}"), blocks)


def _assignment_error(user: User, state: AssignmentError, products: Mapping[str, Product]) -> str:
    """The product, Microsoft's code, and the rule's own explanation and fix when one explains it."""
    line = f"• *{escape(_name(state.sku_id, products))}*: {code(state.error)}"
    error = assignment_state_error(user, state, products)
    if error is not None:
        line += f"\n    {escape(error.problem)}\n    {escape(error.fix)}"
    return clip(line, _LINE_LIMIT)


def _source(user: User, sku_id: str, groups: Mapping[str, str]) -> str:
    """Where a license comes from (R21): said only for someone who gets licenses from groups."""
    if not user.inherits_any:
        return ""
    names = [groups.get(group_id, "a group") for group_id in dict.fromkeys(user.groups_of(sku_id))]
    working = {lic.sku_id for lic in user.inherited_licenses()}
    if not names or sku_id not in working:
        return "assigned directly"
    source = "from " + " and ".join(f"the group {escape(name)}" for name in names)
    return source + (", and directly" if user.has_direct(sku_id) else "")


def _group_error(user: User, state: LicenseState, overview: UserOverview) -> str:
    """A license a group gives that Microsoft 365 holds in error for this member (R21)."""
    group = overview.groups.get(state.group_id or "", "a group")
    line = _assignment_error(user, AssignmentError(state.sku_id, state.error), overview.products)
    return clip(line.replace(":", f" (from the group {escape(group)}):", 1), _LINE_LIMIT)


def _name(sku_id: str, products: Mapping[str, Product]) -> str:
    product = products.get(sku_id)
    return product.display_name if product else sku_id


def _license(lic: LicenseAssignment, products: Mapping[str, Product], source: str = "") -> str:
    product = products.get(lic.sku_id)
    if product is None:
        return clip(f"• *{escape(lic.sku_id)}* (a product the tenant no longer lists)", _LINE_LIMIT)
    off = [plan.display_name or plan.name for plan in product.service_plans if plan.id in lic.disabled_plans]
    unknown = len(lic.disabled_plans - product.plan_ids)
    services = f"Services off: {escape(', '.join(off))}" if off else "All services on"
    if unknown:
        services += f" (+{plural(unknown, 'unknown service')} off)"
    seats = product.seats
    origin = f" — {source}" if source else ""
    alias = short_alias(product.part_number, product.display_name)
    line = (
        f"• *{escape(product.display_name)}*{alias}{origin}\n"
        f"    {services}\n"
        f"    Seats left: {seats.available:,} of {seats.enabled:,}"
    )
    return clip(line, _LINE_LIMIT)

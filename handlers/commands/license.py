"""`/license`: assign, replace, remove, services, show, help, and the form (DESIGN.md §3).

A form is opened right after the ack with the trigger id (it expires 3 s after the command), as
"reading the tenant…"; it is filled in with `views.update` once the tenant has answered. A trigger
Slack no longer takes (the 3 s ran out) is a refusal saying to run the command again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, get_args

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from domain.changes import ChangeSet
from domain.commands import (
    ChangeGroupLicense,
    ChangeLicenses,
    ListSubscriptions,
    ReclaimLicenses,
    ShowChange,
    ShowGroup,
    ShowServices,
    ShowUser,
    UndoChange,
)
from domain.errors import DomainError
from domain.group_licensing import AmbiguousGroup
from handlers.admission import access_of
from handlers.blocks import (
    change_status,
    group_overview,
    help_message,
    license_form,
    loading_form,
    services_form,
    signed_out,
    user_overview,
    which_group,
)
from handlers.blocks.waste import reclaim_notice
from handlers.commands.license_report import send_report
from handlers.context import Services
from handlers.grammar.license import (
    LicenseCommand,
    ParsedChange,
    ParsedChangeLookup,
    ParsedForm,
    ParsedGroupChange,
    ParsedGroupShow,
    ParsedServices,
    ParsedShow,
    ParsedSignOut,
    parse_license,
)
from handlers.grammar.subcommands import ParsedHelp
from handlers.grammar.targets import with_group_id
from handlers.grammar.waste import ParsedReclaim, ParsedReport
from handlers.ids import LICENSE_COMMAND, LICENSE_FORM, PICK_GROUP, SERVICES_FORM
from handlers.metadata import FormSeal
from handlers.presenting import ChangeReplies, Surface
from handlers.requests import Request, acknowledge_first

__all__ = ["register"]

_TRIGGER_GONE = {"expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"}
"""`views.open` refusals that mean the command's trigger can no longer open a form."""


def register(app: App, services: Services, seal: FormSeal) -> None:
    listeners = _LicenseCommand(services, seal)
    acknowledge_first(app.command(LICENSE_COMMAND), listeners.license_command)
    acknowledge_first(app.action(re.compile(rf"^{re.escape(PICK_GROUP)}\.\d+$")), listeners.pick_group)


class _LicenseCommand:
    """`/license …` parsed, then run by the handler its kind is mapped to."""

    def __init__(self, services: Services, seal: FormSeal) -> None:
        self._services = services
        self._licenses = services.licenses
        self._seal = seal
        self._handlers: Mapping[type[LicenseCommand], Callable[[Any, Request], None]] = {
            ParsedHelp: self._help,
            ParsedForm: self._license_form,
            ParsedServices: self._services_form,
            ParsedSignOut: self._sign_out,
            ParsedGroupShow: self._show_group,
            ParsedShow: self._show_user,
            ParsedChangeLookup: self._lookup,
            ParsedReport: self._report,
            ParsedReclaim: self._reclaim,
            ParsedGroupChange: self._group_change,
            ParsedChange: self._change,
        }
        missing = set(get_args(LicenseCommand)) - set(self._handlers)
        if missing:
            raise RuntimeError(f"no handler for {sorted(kind.__name__ for kind in missing)}")

    def license_command(self, request: Request) -> None:
        try:
            self._run(request.text, request)
        except AmbiguousGroup as ambiguous:
            # R21: two groups with one name: one button per group runs the command for it.
            commands = [with_group_id(request.text, group.id) for group in ambiguous.choices]
            request.reply(which_group(ambiguous, commands))

    def pick_group(self, request: Request) -> None:
        """A group picked among several with one name: the command again, for that group."""
        self._run(request.value, request)

    def _run(self, text: str, request: Request) -> None:
        parsed = parse_license(text)
        self._handlers[type(parsed)](parsed, request)

    def _help(self, parsed: ParsedHelp, request: Request) -> None:
        request.reply(help_message(parsed.command, parsed.topic))

    def _sign_out(self, _parsed: ParsedSignOut, request: Request) -> None:
        gone = access_of(request.context).sign_out(request.people.account(request.user_id))
        request.reply(signed_out(gone.user_principal_name if gone else None))

    def _show_group(self, parsed: ParsedGroupShow, request: Request) -> None:
        overview = self._licenses.groups.show_group(ShowGroup(request.requester, parsed.group))
        request.reply(group_overview(overview))

    def _show_user(self, parsed: ParsedShow, request: Request) -> None:
        requester = request.requester
        (user,) = request.people.tenant_keys([parsed.target])
        request.reply(user_overview(self._licenses.queries.show_user(ShowUser(requester, user))))

    def _lookup(self, parsed: ParsedChangeLookup, request: Request) -> None:
        """`/license status REF`: the change's result again; `/license undo REF`: its undo, previewed."""
        requester, reference = request.requester, request.correlation_id
        found = self._licenses.history.change_by_reference(ShowChange(parsed.reference, requester, reference))
        if not parsed.undo:
            self._surface(request).only_to_them(change_status(found))
            return
        undo = self._licenses.history.request_undo(UndoChange(found.id, requester, reference))
        self._show(request, undo)

    def _report(self, parsed: ParsedReport, request: Request) -> None:
        requester = request.requester
        send_report(self._services, parsed, requester=requester, surface=self._surface(request))

    def _reclaim(self, parsed: ParsedReclaim, request: Request) -> None:
        """The licenses of disabled (or inactive) accounts, previewed like any change that removes
        access (R22); confirmed, written, audited and undone through the same buttons."""
        plan = self._licenses.waste.plan_reclaim(
            ReclaimLicenses(
                request.requester,
                inactive_days=parsed.inactive_days,
                correlation_id=request.correlation_id,
                channel=request.channel,
            )
        )
        self._show(request, plan.change_set)
        notice = reclaim_notice(plan)
        if notice is not None:
            self._surface(request).only_to_them(notice)

    def _group_change(self, parsed: ParsedGroupChange, request: Request) -> None:
        """A group's own license (R21): always a preview first, whatever the kind."""
        change_set = self._licenses.groups.plan_group_change(
            ChangeGroupLicense(
                kind=parsed.kind,
                requester=request.requester,
                group=parsed.group,
                product=parsed.product,
                turn_off=parsed.turn_off,
                correlation_id=request.correlation_id,
                channel=request.channel,
            )
        )
        self._show(request, change_set)

    def _change(self, parsed: ParsedChange, request: Request) -> None:
        requester = request.requester
        # Planned and kept first (no write): the reply shows it before the long part, and renders
        # from the change set's own snapshot of the products, so nothing is read again for it.
        change_set = self._licenses.changes.plan_change(
            ChangeLicenses(
                kind=parsed.kind,
                requester=requester,
                users=request.people.tenant_keys(parsed.targets),
                product=parsed.product,
                turn_off=parsed.turn_off,
                correlation_id=request.correlation_id,
                channel=request.channel,
            )
        )
        self._show(request, change_set)

    def _show(self, request: Request, change_set: ChangeSet) -> None:
        """A change's message where the command was typed: its preview, or its result (and
        progress) when it was applied at once."""
        ChangeReplies(
            self._licenses.changes,
            self._surface(request),
            interval=self._services.timing.progress_interval,
            correlation_id=request.correlation_id,
        ).show(change_set)

    def _surface(self, request: Request) -> Surface:
        return request.surface(self._services.message_updates)

    def _license_form(self, _parsed: ParsedForm, request: Request) -> None:
        view_id, view_hash, sealed = _open_loading(self._seal, request, LICENSE_FORM, "License change")
        products = self._licenses.queries.list_subscriptions(ListSubscriptions(request.requester)).products
        request.client.views_update(view_id=view_id, hash=view_hash, view=license_form(products, sealed))

    def _services_form(self, parsed: ParsedServices, request: Request) -> None:
        view_id, view_hash, _ = _open_loading(self._seal, request, SERVICES_FORM, "Services")
        requester = request.requester
        (user,) = request.people.tenant_keys([parsed.target])
        found = self._licenses.queries.services_of(ShowServices(requester, user, parsed.product))
        sealed = self._seal.seal(
            {
                "form": SERVICES_FORM,
                "user": request.user_id,
                "channel": request.channel,
                "target": found.user.id,
                "product": found.product.sku_id,
            }
        )
        request.client.views_update(view_id=view_id, hash=view_hash, view=services_form(found, sealed))


def _open_loading(seal: FormSeal, request: Request, callback: str, title: str) -> tuple[str, str, str]:
    """The form opened at once as "reading the tenant…" (the trigger expires 3 s after the
    command): its view id, its hash, and its sealed metadata. From here on, a refusal is shown in
    the form."""
    sealed = seal.seal({"form": callback, "user": request.user_id, "channel": request.channel})
    try:
        opened = request.client.views_open(
            trigger_id=request.body["trigger_id"], view=loading_form(title, callback, sealed)
        )
    except SlackApiError as error:
        if error.response.get("error") not in _TRIGGER_GONE:
            raise
        raise DomainError(
            "The form could not open: Slack allows 3 seconds between the command and its form, and "
            f"that time ran out ({error.response.get('error')}). Nothing was changed.",
            "Run the command again; or type the change without the form, e.g. "
            "`/license assign @alice E5` (`/license help` lists them).",
        ) from error
    view_id, view_hash = str(opened["view"]["id"]), str(opened["view"]["hash"])
    request.errors_in_form(view_id)
    return view_id, view_hash, sealed

"""`/license`: assign, replace, remove, services, show, help, and the form (DESIGN.md §3).

A form is opened right after the ack with the trigger id (it expires 3 s after the command), as
"reading the tenant…"; it is filled in with `views.update` once the tenant has answered. A trigger
Slack no longer takes (the 3 s ran out) is a refusal saying to run the command again.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App, BoltContext, Respond
from slack_sdk import WebClient
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
from domain.services import Licensing
from handlers.admission import access_of
from handlers.admission import people as people_of
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
from handlers.context import OPEN_VIEW, Services, correlation_id
from handlers.error_handler import acknowledge_first
from handlers.ids import LICENSE_COMMAND, LICENSE_FORM, PICK_GROUP, SERVICES_FORM
from handlers.metadata import FormSeal
from handlers.parsing import (
    ParsedChange,
    ParsedChangeLookup,
    ParsedForm,
    ParsedGroupChange,
    ParsedGroupShow,
    ParsedHelp,
    ParsedReclaim,
    ParsedReport,
    ParsedServices,
    ParsedShow,
    ParsedSignOut,
    parse_license,
    with_group_id,
)
from handlers.people import SlackPeople
from handlers.presenting import ChangeReplies, Surface
from handlers.replies import reply

__all__ = ["register"]

_TRIGGER_GONE = {"expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"}
"""`views.open` refusals that mean the command's trigger can no longer open a form."""


def register(app: App, services: Services, seal: FormSeal) -> None:
    licensing = services.licensing

    def license_command(
        command: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
    ) -> None:
        text = str(command.get("text") or "")
        try:
            run(text, command, client, respond, context)
        except AmbiguousGroup as ambiguous:
            # R21: two groups with one name: one button per group runs the command for it.
            commands = [with_group_id(text, group.id) for group in ambiguous.choices]
            reply(respond, which_group(ambiguous, commands))

    def pick_group(
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,
        context: BoltContext,
    ) -> None:
        """A group picked among several with one name: the command again, for that group."""
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
        command = {"user_id": str(body["user"]["id"]), "channel_id": str(channel)}
        run(str(action.get("value") or ""), command, client, respond, context)

    def run(
        text: str, command: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
    ) -> None:
        parsed = parse_license(text)
        if isinstance(parsed, ParsedHelp):
            reply(respond, help_message(parsed.command, parsed.topic))
            return
        if isinstance(parsed, ParsedForm | ParsedServices):
            _open_form(
                licensing,
                seal,
                parsed,
                command=command,
                client=client,
                context=context,
            )
            return
        people = people_of(context)
        if isinstance(parsed, ParsedSignOut):
            gone = access_of(context).sign_out(people.account(command["user_id"]))
            reply(respond, signed_out(gone.user_principal_name if gone else None))
            return
        requester = people.requester(command["user_id"])
        if isinstance(parsed, ParsedGroupShow):
            reply(respond, group_overview(licensing.show_group(ShowGroup(requester, parsed.group))))
            return
        if isinstance(parsed, ParsedShow):
            (user,) = people.tenant_keys([parsed.target])
            reply(respond, user_overview(licensing.show_user(ShowUser(requester, user))))
            return
        surface = Surface(
            client,
            str(command.get("channel_id") or ""),
            command["user_id"],
            respond,
            services.message_updates,
        )
        if isinstance(parsed, ParsedChangeLookup):
            _lookup(services, parsed, requester=requester, surface=surface, context=context)
            return
        if isinstance(parsed, ParsedReport):
            send_report(services, parsed, requester=requester, surface=surface)
            return
        if isinstance(parsed, ParsedReclaim):
            _reclaim(services, parsed, requester=requester, surface=surface, context=context)
            return
        if isinstance(parsed, ParsedGroupChange):
            _group_change(services, parsed, requester=requester, surface=surface, context=context)
            return
        _change(services, parsed, people=people, requester=requester, surface=surface, context=context)

    acknowledge_first(app.command(LICENSE_COMMAND), license_command)
    acknowledge_first(app.action(re.compile(rf"^{re.escape(PICK_GROUP)}\.\d+$")), pick_group)


def _change(
    services: Services,
    parsed: ParsedChange,
    *,
    people: SlackPeople,
    requester: str,
    surface: Surface,
    context: BoltContext,
) -> None:
    licensing = services.licensing
    # Planned and kept first (no write): the reply shows it before the long part, and renders from
    # the change set's own snapshot of the products, so nothing is read again for it.
    change_set = licensing.plan_change(
        ChangeLicenses(
            kind=parsed.kind,
            requester=requester,
            users=people.tenant_keys(parsed.targets),
            product=parsed.product,
            turn_off=parsed.turn_off,
            correlation_id=correlation_id(context),
            channel=surface.channel,
        )
    )
    _show(services, surface, context, change_set)


def _show(services: Services, surface: Surface, context: BoltContext, change_set: ChangeSet) -> None:
    """A change's message where the command was typed: its preview, or its result (and progress)
    when it was applied at once."""
    ChangeReplies(
        services.licensing,
        surface,
        interval=services.timing.progress_interval,
        correlation_id=correlation_id(context),
    ).show(change_set)


def _reclaim(
    services: Services, parsed: ParsedReclaim, *, requester: str, surface: Surface, context: BoltContext
) -> None:
    """The licenses of disabled (or inactive) accounts, previewed like any change that removes
    access (R22); confirmed, written, audited and undone through the same buttons."""
    plan = services.waste.plan_reclaim(
        ReclaimLicenses(
            requester,
            inactive_days=parsed.inactive_days,
            correlation_id=correlation_id(context),
            channel=surface.channel,
        )
    )
    _show(services, surface, context, plan.change_set)
    notice = reclaim_notice(plan)
    if notice is not None:
        surface.only_to_them(notice)


def _group_change(
    services: Services,
    parsed: ParsedGroupChange,
    *,
    requester: str,
    surface: Surface,
    context: BoltContext,
) -> None:
    """A group's own license (R21): always a preview first, whatever the kind."""
    licensing = services.licensing
    change_set = licensing.plan_group_change(
        ChangeGroupLicense(
            kind=parsed.kind,
            requester=requester,
            group=parsed.group,
            product=parsed.product,
            turn_off=parsed.turn_off,
            correlation_id=correlation_id(context),
            channel=surface.channel,
        )
    )
    _show(services, surface, context, change_set)


def _lookup(
    services: Services,
    parsed: ParsedChangeLookup,
    *,
    requester: str,
    surface: Surface,
    context: BoltContext,
) -> None:
    """`/license status REF`: the change's result again; `/license undo REF`: its undo, previewed."""
    licensing = services.licensing
    found = licensing.change_by_reference(ShowChange(parsed.reference, requester, correlation_id(context)))
    if not parsed.undo:
        surface.only_to_them(change_status(found))
        return
    undo = licensing.request_undo(UndoChange(found.id, requester, correlation_id(context)))
    _show(services, surface, context, undo)


def _open_form(
    licensing: Licensing,
    seal: FormSeal,
    parsed: ParsedForm | ParsedServices,
    *,
    command: dict[str, Any],
    client: WebClient,
    context: BoltContext,
) -> None:
    user_id = str(command["user_id"])
    channel = str(command.get("channel_id") or "")
    callback, title = (
        (SERVICES_FORM, "Services")
        if isinstance(parsed, ParsedServices)
        else (LICENSE_FORM, "License change")
    )
    sealed = seal.seal({"form": callback, "user": user_id, "channel": channel})
    try:
        opened = client.views_open(
            trigger_id=command["trigger_id"], view=loading_form(title, callback, sealed)
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
    context[OPEN_VIEW] = view_id  # from here on, a refusal is shown in the form
    people = people_of(context)
    requester = people.requester(user_id)
    if isinstance(parsed, ParsedServices):
        (user,) = people.tenant_keys([parsed.target])
        found = licensing.services_of(ShowServices(requester, user, parsed.product))
        sealed = seal.seal(
            {
                "form": callback,
                "user": user_id,
                "channel": channel,
                "target": found.user.id,
                "product": found.product.sku_id,
            }
        )
        view = services_form(found, sealed)
    else:
        products = licensing.list_subscriptions(ListSubscriptions(requester)).products
        view = license_form(products, sealed)
    client.views_update(view_id=view_id, hash=view_hash, view=view)

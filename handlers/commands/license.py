"""`/license`: assign, replace, remove, services, show, help, and the form (DESIGN.md §3).

A form is opened right after the ack with the trigger id (it expires 3 s after the command), as
"reading the tenant…"; it is filled in with `views.update` once the tenant has answered. A trigger
Slack no longer takes (the 3 s ran out) is a refusal saying to run the command again.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.commands import ChangeLicenses, ListSubscriptions, ShowChange, ShowServices, ShowUser, UndoChange
from domain.errors import DomainError
from domain.services import Licensing
from handlers.blocks import (
    change_status,
    help_message,
    license_form,
    loading_form,
    services_form,
    user_overview,
)
from handlers.context import OPEN_VIEW, Services, correlation_id
from handlers.errors import acknowledge_first
from handlers.ids import LICENSE_COMMAND, LICENSE_FORM, SERVICES_FORM
from handlers.metadata import FormSeal
from handlers.parsing import (
    ParsedChange,
    ParsedChangeLookup,
    ParsedForm,
    ParsedHelp,
    ParsedServices,
    ParsedShow,
    parse_license,
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
        parsed = parse_license(str(command.get("text") or ""))
        if isinstance(parsed, ParsedHelp):
            reply(respond, help_message(parsed.command, parsed.topic))
            return
        if isinstance(parsed, ParsedForm | ParsedServices):
            _open_form(licensing, seal, parsed, command=command, client=client, context=context)
            return
        people = SlackPeople(client)
        requester = people.requester(command["user_id"])
        if isinstance(parsed, ParsedShow):
            (user,) = people.tenant_keys([parsed.target])
            reply(respond, user_overview(licensing.show_user(ShowUser(requester, user))))
            return
        surface = Surface(client, str(command.get("channel_id") or ""), command["user_id"], respond)
        if isinstance(parsed, ParsedChangeLookup):
            _lookup(services, parsed, requester=requester, surface=surface, context=context)
            return
        _change(services, parsed, people=people, requester=requester, surface=surface, context=context)

    acknowledge_first(app.command(LICENSE_COMMAND), license_command)


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
    replies = ChangeReplies(
        licensing, surface, interval=services.timing.progress_interval, correlation_id=correlation_id(context)
    )
    replies.show(change_set)


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
    replies = ChangeReplies(
        licensing, surface, interval=services.timing.progress_interval, correlation_id=correlation_id(context)
    )
    replies.show(undo)


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
    people = SlackPeople(client)
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

"""Submitting the `/license` form and the services form.

Slack shows field errors (`response_action: errors`) only when they come in the answer to the
submission itself, so these are the one kind of listener that reads the tenant before it acks: the
check (who the people are, and planning the change against the rules) runs with a deadline well
inside Slack's 3 s. Within it, a refusal goes back on the field to change (R2, R3, R4, R6, R8), and
a valid change closes the form and continues as the slash command does: a preview to confirm
(replace, remove), or the change applied (add, services). Past the deadline, the form answers
"checking…" at once and, when the check ends, shows the refusal or where the answer went.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as CheckStillRunning
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from domain.changes import ChangeKind, ChangeSet, ChangeState
from domain.commands import ChangeLicenses
from domain.errors import DomainError
from handlers.blocks import Message, domain_error, notice_view
from handlers.blocks.message import message, section
from handlers.context import OPEN_VIEW, Services
from handlers.error_handler import explain, handle_error
from handlers.form_values import FormErrors, field_of, read_license_form, read_services_form
from handlers.grammar.targets import Target, TargetKind
from handlers.ids import LICENSE_FORM, SERVICES_FORM
from handlers.metadata import FormSeal, TamperedForm
from handlers.presenting import ChangeReplies, Surface, is_bulk
from handlers.requests import Request, first_delivery

__all__ = ["register"]

log = logging.getLogger(__name__)

CHECK_THREADS = 8
_ERROR_LIMIT = 300

Build = Callable[[dict[str, str], Request], tuple[ChangeLicenses, str]]
"""(metadata, the request) → the change the form asks for, and its product's sku id."""
Read = Callable[[dict[str, Any]], Build]
"""The submitted view → how to build its change; `FormErrors` when a field is wrong as typed."""


def register(app: App, services: Services, seal: FormSeal) -> None:
    forms = _Forms(services, seal)
    submitted: Mapping[str, Read] = {LICENSE_FORM: _license_form, SERVICES_FORM: _services_form}
    for callback_id, read in submitted.items():
        app.view(callback_id)(forms.listener(read))


def _license_form(view: dict[str, Any]) -> Build:
    """The `/license` form: its fields are read at once (a field wrong as typed is answered before
    anything else); the people it names are looked up in the check."""
    form = read_license_form(view)

    def build(metadata: dict[str, str], request: Request) -> tuple[ChangeLicenses, str]:
        requester = request.requester
        users = request.people.tenant_keys([Target(TargetKind.MENTION, user) for user in form.user_ids])
        command = ChangeLicenses(
            kind=form.kind,
            requester=requester,
            users=users,
            product=form.product,
            turn_off=form.turn_off,
            turn_on=form.turn_on,
            correlation_id=request.correlation_id,
            channel=metadata.get("channel", ""),
            all_or_nothing=True,
        )
        return command, form.product

    return build


def _services_form(view: dict[str, Any]) -> Build:
    """The services form: its ticks are read in the check, against the product it was opened for."""

    def build(metadata: dict[str, str], request: Request) -> tuple[ChangeLicenses, str]:
        requester = request.requester
        product = metadata.get("product", "")
        form = read_services_form(view, product)
        command = ChangeLicenses(
            kind=ChangeKind.SERVICES,
            requester=requester,
            users=(metadata.get("target", ""),),
            product=product,
            turn_off=form.turn_off,
            turn_on=form.turn_on,
            correlation_id=request.correlation_id,
            channel=metadata.get("channel", ""),
            all_or_nothing=True,
        )
        return command, product

    return build


class _Forms:
    def __init__(self, services: Services, seal: FormSeal) -> None:
        self._services = services
        self._licensing = services.licenses.changes
        self._seal = seal
        self._checks = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="form-check")

    def listener(self, read: Read) -> Callable[..., None]:
        """The view submission listener of the form whose change `read` builds."""

        def submitted(
            ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
        ) -> None:
            try:
                build = read(view)
            except FormErrors as wrong:
                ack(response_action="errors", errors=wrong.errors)
                return
            self._submit(ack, Request(body, context, client, None), view, build=build)

        submitted.__name__ = submitted.__qualname__ = read.__name__.lstrip("_")
        return submitted

    def _submit(self, ack: Ack, request: Request, view: dict[str, Any], *, build: Build) -> None:
        context = request.context
        started = time.monotonic()
        user_id = request.user_id
        try:
            if not first_delivery(context):
                ack()
                return
            metadata = self._seal.open(str(view.get("private_metadata") or ""), user_id=user_id)
        except TamperedForm as refusal:
            log.warning("a form came back with changed metadata", extra={"action": view.get("callback_id")})
            ack(response_action="update", view=notice_view("licensebot", domain_error(refusal)))
            return
        except Exception as error:
            ack(response_action="update", view=notice_view("licensebot", explain(error, context)))
            return
        product: list[str] = []

        def check() -> ChangeSet:
            command, sku = build(metadata, request)
            product.append(sku)
            return self._licensing.plan_change(command)

        surface = Surface(
            request.client, metadata.get("channel", ""), user_id, updates=self._services.message_updates
        )
        pending = self._checks.submit(contextvars.copy_context().run, check)
        budget = self._services.timing.form_check_seconds - (time.monotonic() - started)
        try:
            if budget <= 0:
                raise CheckStillRunning
            change_set = pending.result(timeout=budget)
        except CheckStillRunning:
            ack(response_action="update", view=notice_view("licensebot", _checking()))
            request.errors_in_form(str(view["id"]))
            self._later(partial(self._finish_late, pending, surface, request), request)
            return
        except FormErrors as wrong:
            ack(response_action="errors", errors=wrong.errors)
            return
        except DomainError as refusal:
            explained = explain(refusal, context)
            field = field_of(refusal, view, product[0] if product else "")
            if field is None:
                ack(response_action="update", view=notice_view("licensebot", explained))
            else:
                ack(response_action="errors", errors={field: refusal.message[:_ERROR_LIMIT]})
            return
        except Exception as error:
            ack(response_action="update", view=notice_view("licensebot", explain(error, context)))
            return
        ack()  # the form closes; the answer comes in the channel it was opened from
        self._later(partial(self._answer, change_set, surface, request), request)

    def _later(self, step: Callable[[], None], request: Request) -> None:
        """Run what follows the answer on the listener threads, so the answer goes back to Slack at
        once; a failure there is handled as any listener's would be, not lost in the thread pool."""

        def run() -> None:
            try:
                step()
            except Exception as error:
                handle_error(error, request.body, request.context, request.client)

        request.context.listener_runner.listener_executor.submit(contextvars.copy_context().run, run)

    def _answer(self, change_set: ChangeSet, surface: Surface, request: Request) -> None:
        replies = ChangeReplies(
            self._licensing,
            surface,
            interval=self._services.timing.progress_interval,
            correlation_id=request.correlation_id,
        )
        try:
            replies.show(change_set)
        except Exception as error:
            request.errors_in_form(None)  # the form is closed: the error comes as a message
            handle_error(error, request.body, request.context, request.client)

    def _finish_late(self, pending: Future[ChangeSet], surface: Surface, request: Request) -> None:
        """The check outlived the answer to Slack: the form says how it went once it is done."""
        try:
            change_set = pending.result()
        except Exception as error:
            handle_error(error, request.body, request.context, request.client)  # into the open form
            return
        request.client.views_update(
            view_id=request.context[OPEN_VIEW],
            view=notice_view("licensebot", _sent(change_set, surface.channel)),
        )
        request.errors_in_form(None)
        self._answer(change_set, surface, request)


def _checking() -> Message:
    return message(
        "Checking the change…",
        [
            section(
                ":hourglass_flowing_sand: Checking the change against the tenant; this form says how it went."
            )
        ],
    )


def _sent(change_set: ChangeSet, channel: str) -> Message:
    where = f"<#{channel}>" if channel else "your direct messages with licensebot"
    what = "The preview to confirm" if change_set.state is ChangeState.PREVIEWED else "The result"
    shared = " (for the whole channel: a bulk change)" if is_bulk(change_set) else " (only you see it)"
    return message(f"{what} is in {where}.", [section(f":white_check_mark: {what} is in {where}{shared}.")])

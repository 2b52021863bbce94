"""The buttons of the subscription workflows: a step's choices, Approve / Reject on an approval
request, and "Mark done" on an admin-center task.

The domain decides: who may press (R13, R16) and whether the step still waits for this click. A
double click or a stale message finds it no longer open (`StepNotOpen`, `ApprovalNotPending`), which
is shown as a notice to the person, not as an error. The checklist itself is updated in place by the
`SlackNotifier` as the workflow moves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, Respond

from domain.commands import ApproveCancellation, DecideStep, MarkTaskDone, RejectCancellation
from domain.errors import ApprovalNotPending, DomainError, StepNotOpen
from domain.subscriptions import Subscriptions
from domain.workflows import WorkflowStatus
from handlers.admission import people
from handlers.blocks.workflows import parse_choice_value, workflow_checklist, workflow_notice
from handlers.context import Services, correlation_id
from handlers.error_handler import acknowledge_first
from handlers.ids import (
    APPROVE_CANCELLATION,
    APPROVE_LOSING_ACCESS,
    REJECT_CANCELLATION,
    TASK_DONE,
    WORKFLOW_CHOICE_PATTERN,
)
from handlers.replies import reply
from handlers.slack_directory import SlackUsers

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    if services.subscriptions is None:
        return
    buttons = _Buttons(services.subscriptions, services.slack_users)
    acknowledge_first(app.action(re.compile(WORKFLOW_CHOICE_PATTERN)), buttons.choose)
    acknowledge_first(app.action(APPROVE_CANCELLATION), buttons.approve)
    acknowledge_first(app.action(APPROVE_LOSING_ACCESS), buttons.approve_losing_access)
    acknowledge_first(app.action(REJECT_CANCELLATION), buttons.reject)
    acknowledge_first(app.action(TASK_DONE), buttons.mark_done)


class _Buttons:
    def __init__(self, subscriptions: Subscriptions, users: SlackUsers) -> None:
        self._subscriptions = subscriptions
        self._users = users

    def choose(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        context: BoltContext,
    ) -> None:
        workflow_id, step, choice = parse_choice_value(str(action.get("value") or ""))
        if not workflow_id:
            raise DomainError("That button does not belong to a workflow.", "Use `/subscription status`.")
        requester = people(context).requester(str(body["user"]["id"]))
        decide = DecideStep(requester, workflow_id, step, choice, correlation_id(context))
        status = _noticed(respond, lambda: self._subscriptions.decide(decide))
        if status is not None and (body.get("container") or {}).get("is_ephemeral"):
            # A checklist only they see (it could not be posted in the channel): the notifier
            # cannot update it, so the answer takes its place.
            reply(respond, workflow_checklist(status), replace_original=True)

    def approve(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        context: BoltContext,
    ) -> None:
        self._approve(body, action, respond, context, accept_loss_of_access=False)

    def approve_losing_access(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        context: BoltContext,
    ) -> None:
        self._approve(body, action, respond, context, accept_loss_of_access=True)

    def reject(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        context: BoltContext,
    ) -> None:
        requester = people(context).requester(str(body["user"]["id"]))
        cmd = RejectCancellation(
            requester, str(action.get("value") or ""), correlation_id=correlation_id(context)
        )
        _noticed(respond, lambda: self._subscriptions.reject(cmd))

    def mark_done(self, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
        requester = people(context).requester(str(body["user"]["id"]))
        cmd = MarkTaskDone(requester, str(action.get("value") or ""), correlation_id(context))
        self._subscriptions.mark_task_done(cmd)

    def _approve(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        context: BoltContext,
        *,
        accept_loss_of_access: bool,
    ) -> None:
        requester = people(context).requester(str(body["user"]["id"]))
        cmd = ApproveCancellation(
            requester,
            str(action.get("value") or ""),
            accept_loss_of_access=accept_loss_of_access,
            correlation_id=correlation_id(context),
        )
        _noticed(respond, lambda: self._subscriptions.approve(cmd))


def _noticed(respond: Respond, press: Callable[[], WorkflowStatus]) -> WorkflowStatus | None:
    """Run the press; a step or an approval no longer open is a notice to the presser (None)."""
    try:
        return press()
    except (StepNotOpen, ApprovalNotPending) as already:
        reply(respond, workflow_notice(already))
        return None

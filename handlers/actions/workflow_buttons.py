"""The buttons of the subscription workflows: a step's choices, Approve / Reject on an approval
request, and "Mark done" on an admin-center task.

The domain decides: who may press (R13, R16) and whether the step still waits for this click. A
double click or a stale message finds it no longer open (`StepNotOpen`, `ApprovalNotPending`), which
is shown as a notice to the person, not as an error. The checklist itself is updated in place by the
`SlackNotifier` as the workflow moves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from slack_bolt import App

from domain.application.subscriptions.decisions import WorkflowDecisions
from domain.commands import ApproveCancellation, DecideStep, MarkTaskDone, RejectCancellation
from domain.errors import ApprovalNotPending, DomainError, StepNotOpen
from domain.workflows import WorkflowStatus
from handlers.blocks.workflows import parse_choice_value, workflow_checklist, workflow_notice
from handlers.context import Services
from handlers.ids import (
    APPROVE_CANCELLATION,
    APPROVE_LOSING_ACCESS,
    REJECT_CANCELLATION,
    TASK_DONE,
    WORKFLOW_CHOICE_PATTERN,
)
from handlers.requests import Listener, Request, acknowledge_first

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    if services.subscriptions is None:
        return
    buttons = _Buttons(services.subscriptions.decisions)
    pressed: Mapping[str | re.Pattern[str], Listener] = {
        re.compile(WORKFLOW_CHOICE_PATTERN): buttons.choose,
        APPROVE_CANCELLATION: buttons.approve,
        APPROVE_LOSING_ACCESS: buttons.approve_losing_access,
        REJECT_CANCELLATION: buttons.reject,
        TASK_DONE: buttons.mark_done,
    }
    for action_id, listener in pressed.items():
        acknowledge_first(app.action(action_id), listener)


class _Buttons:
    def __init__(self, decisions: WorkflowDecisions) -> None:
        self._decisions = decisions

    def choose(self, request: Request) -> None:
        workflow_id, step, choice = parse_choice_value(request.value)
        if not workflow_id:
            raise DomainError("That button does not belong to a workflow.", "Use `/subscription status`.")
        decide = DecideStep(request.requester, workflow_id, step, choice, request.correlation_id)
        status = _noticed(request, lambda: self._decisions.decide(decide))
        if status is not None and request.only_theirs:
            # A checklist only they see (it could not be posted in the channel): the notifier
            # cannot update it, so the answer takes its place.
            request.reply(workflow_checklist(status), replace_original=True)

    def approve(self, request: Request) -> None:
        self._approve(request, accept_loss_of_access=False)

    def approve_losing_access(self, request: Request) -> None:
        self._approve(request, accept_loss_of_access=True)

    def reject(self, request: Request) -> None:
        cmd = RejectCancellation(request.requester, request.value, correlation_id=request.correlation_id)
        _noticed(request, lambda: self._decisions.reject(cmd))

    def mark_done(self, request: Request) -> None:
        cmd = MarkTaskDone(request.requester, request.value, request.correlation_id)
        self._decisions.mark_task_done(cmd)

    def _approve(self, request: Request, *, accept_loss_of_access: bool) -> None:
        cmd = ApproveCancellation(
            request.requester,
            request.value,
            accept_loss_of_access=accept_loss_of_access,
            correlation_id=request.correlation_id,
        )
        _noticed(request, lambda: self._decisions.approve(cmd))


def _noticed(request: Request, press: Callable[[], WorkflowStatus]) -> WorkflowStatus | None:
    """Run the press; a step or an approval no longer open is a notice to the presser (None)."""
    try:
        return press()
    except (StepNotOpen, ApprovalNotPending) as already:
        request.reply(workflow_notice(already))
        return None

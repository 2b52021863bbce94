"""The workflow aggregate: a persisted state machine with ordered steps (DESIGN.md §4).

A workflow knows its kind, its steps and the facts it gathered (the product, the subscription it
bought or changes, the change set that moves the users, the approval, the admin task). Steps run in
order: only the current step (the first one not done or skipped) can move. Services drive it — they
do the I/O and record each outcome here — and the repository keeps it, so a restart resumes where it
was. A running step carries a lease (`lease_owner`, `lease_expires_at`): whoever runs it holds the
lease, and only a crashed step, whose lease ran out, is taken over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import DomainError, IllegalTransition, StepNotOpen
from domain.model import Cloud, PaymentMethod, Product
from domain.wording import plural
from domain.workflows.settings import CREDIT_CHECK_BUSINESS_DAYS
from domain.workflows.steps import Choice, Step, StepName, StepStatus, WaitFor

__all__ = [
    "EVERYONE",
    "STEPS",
    "ProductRef",
    "Workflow",
    "WorkflowKind",
    "WorkflowState",
    "fresh_steps",
]

EVERYONE = "all"
"""The target of a switch that moves every holder of the source product."""


class WorkflowKind(StrEnum):
    PURCHASE = "purchase"
    SEATS = "seats"
    SWITCH = "switch"
    UPGRADE = "upgrade"
    CANCEL = "cancel"


class WorkflowState(StrEnum):
    RUNNING = "running"
    """The current step is pending or running: the bot has work to do."""
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """Stopped by an admin, rejected, or its approval expired."""

    @property
    def final(self) -> bool:
        return self in {WorkflowState.DONE, WorkflowState.FAILED, WorkflowState.CANCELLED}


STEPS: dict[WorkflowKind, tuple[StepName, ...]] = {
    WorkflowKind.PURCHASE: (StepName.BUY, StepName.AWAIT_ACTIVE),
    WorkflowKind.SEATS: (StepName.CHANGE_SEATS, StepName.AWAIT_SEATS),
    WorkflowKind.SWITCH: (
        StepName.DECIDE,
        StepName.TARGET,
        StepName.AWAIT_ACTIVE,
        StepName.CHECK_SEATS,
        StepName.PREVIEW,
        StepName.REASSIGN,
        StepName.OFFER_CLEANUP,
    ),
    WorkflowKind.UPGRADE: (
        StepName.DECIDE,
        StepName.TARGET,
        StepName.AWAIT_ACTIVE,
        StepName.CHECK_SEATS,
        StepName.PREVIEW,
        StepName.REASSIGN,
        StepName.OFFER_ADDONS,
        StepName.OFFER_CLEANUP,
    ),
    WorkflowKind.CANCEL: (StepName.CONFIRM, StepName.APPROVAL, StepName.CANCEL, StepName.VERIFY),
}
"""Each kind's steps, in order: the procedures of the reference documents."""


@dataclass(frozen=True, slots=True)
class ProductRef:
    """A product as a workflow remembers it, whether or not the tenant has it yet."""

    sku_id: str
    part_number: str
    display_name: str

    @classmethod
    def of(cls, product: Product) -> ProductRef:
        return cls(product.sku_id, product.part_number, product.display_name)

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.part_number})"


@dataclass(slots=True)
class Workflow:
    """One admin procedure in flight; a new one starts with `steps=fresh_steps(kind)`."""

    id: str
    kind: WorkflowKind
    requested_by: str
    created_at: datetime
    product: ProductRef
    """What is bought, changed or cancelled; for a switch or an upgrade, the target product."""
    steps: list[Step]
    state: WorkflowState = WorkflowState.RUNNING
    updated_at: datetime | None = None
    cloud: Cloud = Cloud.WORLDWIDE
    """The tenant's cloud: every link the workflow gives goes there (R18)."""
    country: str = "US"
    """The organization's country: its public holidays count in the credit check (R10)."""
    source: ProductRef | None = None
    """Switch and upgrade: the product the users move off."""
    targets: tuple[str, ...] = ()
    """Switch: `("all",)`, user principal names, or `has:PRODUCT`."""
    users_to_move: int = 0
    seats: int = 0
    """Purchase: licenses bought; seats: the change (+5, -3); switch and upgrade: licenses needed."""
    payment_method: PaymentMethod = PaymentMethod.CARD
    subscription_id: str = ""
    """The subscription bought, changed or cancelled (for a switch: the target one)."""
    expected_total: int = 0
    """The number of licenses a seat change must show on `subscription_id` when it is done."""
    known_subscriptions: tuple[str, ...] = ()
    """The product's subscriptions before a purchase: a new one is recognized by not being here."""
    purchase_id: str = ""
    """The subscription this workflow's purchase became, once known: taken by this workflow alone,
    so one purchase in the admin center never completes two workflows (R19, R23)."""
    credit_check_days: int = CREDIT_CHECK_BUSINESS_DAYS
    """R10: the business days an invoice purchase may wait for a credit check, from the settings
    when the workflow started: its deadline and every message about it count the same days."""
    ordered_at: datetime | None = None
    deadline: datetime | None = None
    """When activation is overdue: the credit-check deadline of an invoice purchase (R10), the
    midnight (UTC) that ends its last business day."""
    escalated_at: datetime | None = None
    change_set_id: str = ""
    approval_id: str = ""
    task_id: str = ""
    addons: tuple[ProductRef, ...] = ()
    """Upgrade: add-ons whose service plans the target includes (R14)."""
    follow_ups: tuple[str, ...] = ()
    """Workflows started from this one's offers (cancel the old subscription, remove seats)."""
    parent_id: str = ""
    channel: str = ""
    message_ts: str = ""
    """The Slack message that shows this workflow, updated in place."""
    lease_owner: str = ""
    lease_expires_at: datetime | None = None
    notes: list[str] = field(default_factory=list)
    """Facts worth showing that belong to no single step (e.g. who stopped it and why)."""

    # --- reading ----------------------------------------------------------------------------------

    @property
    def current(self) -> Step | None:
        """The first step not done or skipped (a failed step stays current)."""
        return next((step for step in self.steps if not step.status.passed), None)

    def step(self, name: StepName) -> Step:
        for step in self.steps:
            if step.name is name:
                return step
        raise IllegalTransition(f"A {self.kind} workflow", "without that step", name.value)

    @property
    def waiting_for(self) -> WaitFor | None:
        step = self.current
        return step.waiting_for if step is not None and step.status is StepStatus.WAITING else None

    @property
    def credit_check_ends(self) -> str:
        """R10: the end of the credit check's last business day, as every message says it."""
        if self.deadline is None:
            return ""
        return f"{self.deadline - timedelta(seconds=1):%a %d %b %Y} end of day"

    @property
    def moves_everyone(self) -> bool:
        return self.targets == (EVERYONE,)

    @property
    def summary(self) -> str:
        product = self.product.display_name
        if self.kind is WorkflowKind.PURCHASE:
            by = " by invoice" if self.payment_method is PaymentMethod.INVOICE else ""
            return f"Buy {self.seats} × {product}{by}"
        if self.kind is WorkflowKind.SEATS:
            return f"{'Add' if self.seats > 0 else 'Remove'} {plural(abs(self.seats), product + ' license')}"
        if self.kind is WorkflowKind.CANCEL:
            return f"Cancel the {product} subscription"
        source = self.source.display_name if self.source else "?"
        who = "everyone" if self.moves_everyone else plural(self.users_to_move, "user")
        verb = "Upgrade" if self.kind is WorkflowKind.UPGRADE else "Switch"
        return f"{verb} {who} from {source} to {product}"

    # --- moving steps -----------------------------------------------------------------------------

    def start(self, name: StepName, now: datetime, note: str | None = None) -> Step:
        step = self._current(name, "running")
        step.move(StepStatus.RUNNING, now, note=note)
        return self._touch(now, step)

    def resume(self, name: StepName, now: datetime) -> Step:
        """Take a running step over after a crash: counted as another attempt."""
        step = self._current(name, "running again")
        step.move(StepStatus.RUNNING, now, resume=True)
        return self._touch(now, step)

    def progress(self, name: StepName, now: datetime, note: str) -> Step:
        """A running step reports how far it got (a reassignment batch done)."""
        step = self._current(name, "reporting progress")
        if step.status is not StepStatus.RUNNING:
            raise IllegalTransition(f"The step “{name.label}”", step.status.value, "reporting progress")
        step.note = note
        self.updated_at = now
        return step

    def wait(
        self,
        name: StepName,
        waiting_for: WaitFor,
        now: datetime,
        note: str,
        choices: Sequence[Choice] = (),
    ) -> Step:
        step = self._current(name, "waiting")
        step.move(StepStatus.WAITING, now, note=note, waiting_for=waiting_for, choices=tuple(choices))
        return self._touch(now, step)

    def complete(self, name: StepName, now: datetime, note: str) -> Step:
        step = self._current(name, "done")
        step.move(StepStatus.DONE, now, note=note)
        return self._touch(now, step)

    def skip(self, name: StepName, now: datetime, note: str) -> Step:
        step = self._current(name, "skipped")
        step.move(StepStatus.SKIPPED, now, note=note)
        return self._touch(now, step)

    def fail(self, name: StepName, now: datetime, note: str) -> Step:
        step = self._current(name, "failed")
        step.move(StepStatus.FAILED, now, note=note)
        self.release()
        return self._touch(now, step)

    def choose(self, name: StepName, choice: Choice) -> Step:
        """Check that the step waits for this choice now; a second click finds it no longer open."""
        step = self.step(name)
        if self.state.final or step is not self.current or step.status is not StepStatus.WAITING:
            raise StepNotOpen(name.label, self.state.value if self.state.final else step.status.value)
        if choice not in step.choices:
            offered = ", ".join(c.label for c in step.choices) or "nothing"
            raise DomainError(
                f"“{choice.label}” is not a choice at the step “{name.label}”.", f"It offers: {offered}."
            )
        return step

    def hand_over(self, now: datetime, note: str) -> None:
        """The admin does the rest elsewhere (the admin center's Switch plans, R15): done here."""
        current = self.current
        if current is None or current.status is StepStatus.RUNNING:
            raise IllegalTransition(f"The workflow {self.id}", self.state.value, "handed over")
        current.move(StepStatus.DONE, now, note=note)
        self._skip_rest(now, "Done in the admin center.")
        self._touch(now, current)

    def cancel(self, now: datetime, note: str) -> None:
        """Stop: the current step says why, the remaining ones are skipped. A running step must
        finish first."""
        current = self.current
        if self.state.final:
            raise StepNotOpen("the workflow", self.state.value)
        if current is not None and current.status is StepStatus.RUNNING:
            raise IllegalTransition(f"The workflow {self.id}", "running a step", "cancelled")
        self._skip_rest(now, "Not done: the workflow was stopped.", why_here=note)
        self.notes.append(note)
        self.state = WorkflowState.CANCELLED
        self.updated_at = now
        self.release()

    # --- leases -----------------------------------------------------------------------------------

    def claim(self, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Hold the lease to run a step: free, expired or already ours → True and (re)newed."""
        free = not self.lease_owner or self.lease_expires_at is None or self.lease_expires_at <= now
        if not free and self.lease_owner != owner:
            return False
        self.lease_owner = owner
        self.lease_expires_at = now + ttl
        return True

    def release(self) -> None:
        self.lease_owner = ""
        self.lease_expires_at = None

    # --- internals --------------------------------------------------------------------------------

    def _current(self, name: StepName, wanted: str) -> Step:
        if self.state.final:
            raise IllegalTransition(f"The workflow {self.id}", self.state.value, f"{name.value} {wanted}")
        step = self.step(name)
        current = self.current
        if step is not current:
            now_at = current.name.value if current else "the end"
            raise IllegalTransition(f"The step “{name.label}”", f"{step.status} (current: {now_at})", wanted)
        return step

    def _skip_rest(self, now: datetime, note: str, why_here: str = "") -> None:
        """Skip every step not final; the current one says `why_here` when given."""
        current = self.current
        for step in self.steps:
            if not step.status.final:
                step.note = why_here if why_here and step is current else note
                step.status, step.since = StepStatus.SKIPPED, now
                step.waiting_for, step.choices = None, ()

    def _touch(self, now: datetime, step: Step) -> Step:
        self.updated_at = now
        current = self.current
        if any(s.status is StepStatus.FAILED for s in self.steps):
            self.state = WorkflowState.FAILED
        elif current is None:
            self.state = WorkflowState.DONE
            self.release()
        elif current.status is StepStatus.WAITING:
            self.state = WorkflowState.WAITING
        else:
            self.state = WorkflowState.RUNNING
        return step


def fresh_steps(kind: WorkflowKind) -> list[Step]:
    """The steps of a new workflow of this kind, all pending."""
    return [Step(name) for name in STEPS[kind]]

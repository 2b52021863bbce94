"""Subscription services: buy, seats, switch plans, upgrade from E4, cancel — as durable workflows.

Called by the Slack listeners and the scheduler. Each public method has the shape of `Licensing`'s:
authorize (R16; refusals audited, R20), read the tenant with no transaction open, then `with uow:`
load, decide with the domain (`domain.workflows`), commit, then tell the Slack side through the
`Notifier` and return a `WorkflowStatus` to render. The steps themselves run in
`domain.workflow_engine`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from domain.application.authorization import Authorization, Requester, audit_target
from domain.application.licensing import Licensing
from domain.application.lookups import HOLDERS_PREFIX
from domain.audit import AuditResult
from domain.catalog import KnownProduct, ProductCatalog, short_name
from domain.changes import ChangeState
from domain.commands import (
    ApproveCancellation,
    BuySubscription,
    CancelSubscription,
    ChangeSeats,
    DecideStep,
    MarkTaskDone,
    RejectCancellation,
    SwitchPlans,
    UpgradeFromE4,
)
from domain.errors import (
    AmbiguousProduct,
    ApprovalNotPending,
    ChangeNotPending,
    DomainError,
    NotAuthorized,
    NothingToChange,
    SubscriptionNotActive,
    UnknownApproval,
    UnknownProduct,
    UnknownTask,
    UnknownUser,
)
from domain.model import Organization, Permission, Product, Seats, ServicePlan, Subscription, User
from domain.ports import (
    BusinessCalendar,
    Clock,
    Commerce,
    Notifier,
    TenantDirectory,
    UnitOfWork,
    UnitOfWorkFactory,
    UserQuery,
)
from domain.prices import Prices
from domain.rules import check_in_organization
from domain.waste import RENEWAL_ALERT_DAYS, renewal_text, renewals_due, waste_line, waste_summary
from domain.wording import plural
from domain.workflow_engine import WorkflowEngine
from domain.workflows import (
    E4_PART_NUMBER,
    EVERYONE,
    POLLED_WAITS,
    Approval,
    ApprovalState,
    Choice,
    DirectorySnapshot,
    ProductRef,
    Reminder,
    StepName,
    WaitFor,
    WaitingOn,
    Workflow,
    WorkflowKind,
    WorkflowState,
    WorkflowStatus,
    admin_center,
    fresh_steps,
    notes,
)
from domain.workflows.checks import (
    SWITCH_PATHS,
    active_subscriptions,
    by_id_suffix,
    check_direct_purchase,
    check_on_sale,
    check_source_active,
    only_active,
    redundant_addons,
    seat_subscription,
    seats_wanted,
    users_losing_access,
)
from domain.workflows.polling import wants_products
from domain.workflows.reminders import digest, reminders_for
from domain.workflows.settings import WorkflowSettings
from domain.workflows.views import ReminderKind

__all__ = ["Subscriptions", "TickReport", "WorkflowSettings"]

log = logging.getLogger(__name__)

POLL_LEASE = "poll"
"""The lease of the periodic read of the tenant: one replica polls per interval."""


@dataclass(frozen=True, slots=True)
class TickReport:
    polled: int
    """Waiting workflows looked at."""
    advanced: tuple[str, ...]
    """Workflows the poll moved on."""
    expired_approvals: tuple[str, ...]
    resumed: tuple[str, ...]
    """Workflows whose ready or crashed step was run."""
    changes: tuple[str, ...] = ()
    """License changes a crash had left half-applied, finished by this tick."""
    renewals: tuple[Reminder, ...] = ()
    """Renewal alerts this tick claimed and sent (R22)."""


@dataclass(frozen=True, slots=True)
class _Tenant:
    """What a decision needs of the tenant, read before its unit of work opens."""

    organization: Organization
    products: list[Product]
    subscriptions: list[Subscription]
    holders: dict[str, list[User]] = field(default_factory=dict)
    """By product: who holds it (for the products a decision may cancel)."""


class Subscriptions:
    """Subscription workflows (R2, R8–R15, R19, R20) on top of `Licensing` (R7, R16, R17)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
        clock: Clock,
        catalog: ProductCatalog,
        *,
        licensing: Licensing,
        commerce: Commerce,
        calendar: BusinessCalendar,
        notifier: Notifier,
        settings: WorkflowSettings | None = None,
        owner: str | None = None,
        renewal_days: Sequence[int] = RENEWAL_ALERT_DAYS,
        prices: Prices | None = None,
    ) -> None:
        self._prices = prices or Prices()
        self._renewal_days = tuple(sorted({days for days in renewal_days if days > 0}, reverse=True))
        self._uow = uow
        self._directory = directory
        self._clock = clock
        self._catalog = catalog
        self._licensing = licensing
        self._authorization = Authorization(uow, directory, clock)
        self._notifier = notifier
        self._settings = settings or WorkflowSettings()
        self._stopping = threading.Event()
        self._engine = WorkflowEngine(
            uow,
            directory,
            clock,
            catalog,
            licensing=licensing,
            commerce=commerce,
            calendar=calendar,
            notifier=notifier,
            settings=self._settings,
            owner=owner or f"licensebot-{uuid.uuid4().hex[:8]}",
        )

    @property
    def settings(self) -> WorkflowSettings:
        return self._settings

    # ==============================================================================================
    # Starting workflows

    def buy(self, cmd: BuySubscription) -> WorkflowStatus:
        """Buy → Pending → poll until Enabled; an invoice purchase may wait for a credit check (R10)."""
        action = f"buy {cmd.seats} {cmd.product}"
        requester = self._authorize(cmd.requester, action, cmd.correlation_id, target=cmd.product)
        with self._refusals_audited(cmd.requester, action, cmd.correlation_id, target=cmd.product):
            if cmd.seats < 1:
                raise DomainError(f"Buy at least one license, not {cmd.seats}.", "For example `buy E5 10`.")
            known = self._catalog.resolve_any(cmd.product, self._directory.products())
            check_on_sale(known.part_number, known.display_name)  # R14
            subscriptions = self._directory.subscriptions()
        organization = self._directory.organization()
        product = ProductRef(known.sku_id, known.part_number, known.display_name)
        with self._uow() as uow:
            workflow = self._new(
                organization, WorkflowKind.PURCHASE, requester.name, product, channel=cmd.channel
            )
            workflow.seats = cmd.seats
            workflow.payment_method = cmd.payment_method
            workflow.known_subscriptions = tuple(s.id for s in subscriptions if s.sku_id == known.sku_id)
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def change_seats(self, cmd: ChangeSeats) -> WorkflowStatus:
        """Add or remove licenses on the product's largest active subscription; never below what
        users hold (R2)."""
        action = f"change {cmd.product} seats by {cmd.delta:+d}"
        requester = self._authorize(cmd.requester, action, cmd.correlation_id, target=cmd.product)
        with self._refusals_audited(cmd.requester, action, cmd.correlation_id, target=cmd.product):
            product = self._catalog.resolve(cmd.product, self._directory.products())
            if cmd.delta > 0:
                check_on_sale(product.part_number, product.display_name)  # R14
            subscription = seat_subscription(
                product, self._directory.subscriptions(), cmd.delta, cmd.subscription_id
            )
        organization = self._directory.organization()
        with self._uow() as uow:
            workflow = self._new_seats(
                organization, requester.name, product, subscription, cmd.delta, channel=cmd.channel
            )
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def start_switch(self, cmd: SwitchPlans) -> WorkflowStatus:
        """Switch plans (R11, R12, R15): everyone (`all`, `has:SOURCE`, no users) or the users named,
        from a product the tenant has to one it has or will buy."""
        action = f"switch {cmd.source} to {cmd.target}"
        who = audit_target(cmd.users) or "all"
        requester = self._authorize(cmd.requester, action, cmd.correlation_id, target=who)
        organization = self._directory.organization()
        with self._refusals_audited(cmd.requester, action, cmd.correlation_id, target=who):
            products = self._directory.products()
            source, target = self._source_and_target(cmd.source, cmd.target, products)
            check_source_active(ProductRef.of(source), self._directory.subscriptions())  # R11
            targets, moving = self._switch_targets(organization, source, cmd.users, products)
        with self._uow() as uow:
            workflow = self._new(
                organization, WorkflowKind.SWITCH, requester.name, target, channel=cmd.channel
            )
            workflow.source = ProductRef.of(source)
            workflow.targets = targets
            workflow.users_to_move = workflow.seats = moving
            workflow.payment_method = cmd.payment_method
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def start_upgrade(self, cmd: UpgradeFromE4) -> WorkflowStatus:
        """Upgrade from Office 365 E4 (R14): direct purchases only; at least E4's licenses; users keep
        E4 until moved; add-ons the target includes are offered for removal afterwards."""
        action = f"upgrade {cmd.source} to {cmd.target}"
        requester = self._authorize(cmd.requester, action, cmd.correlation_id, target=cmd.source)
        with self._refusals_audited(cmd.requester, action, cmd.correlation_id, target=cmd.source):
            products = self._directory.products()
            source, target = self._source_and_target(cmd.source, cmd.target, products)
            if source.part_number != E4_PART_NUMBER:
                raise DomainError(
                    f"The upgrade is for Office 365 E4, not {source.display_name}.",
                    f"Use `/subscription switch {short_name(source.part_number, source.display_name)} "
                    f"{short_name(target.part_number, target.display_name)}` instead.",
                    rule="R14",
                )
            subscriptions = self._directory.subscriptions()
            check_direct_purchase(ProductRef.of(source), subscriptions)  # R14
            check_source_active(ProductRef.of(source), subscriptions)  # R11
            holders = self._directory.users_with_product(source.sku_id)
        organization = self._directory.organization()
        e4_seats = sum(s.total_licenses for s in active_subscriptions(subscriptions, source.sku_id))
        with self._uow() as uow:
            workflow = self._new(
                organization, WorkflowKind.UPGRADE, requester.name, target, channel=cmd.channel
            )
            workflow.source = ProductRef.of(source)
            workflow.targets = (EVERYONE,)
            workflow.users_to_move = len(holders)
            workflow.seats = max(e4_seats, len(holders))
            workflow.payment_method = cmd.payment_method
            addons = redundant_addons(holders, products, self._with_plans(target))
            workflow.addons = tuple(ProductRef.of(p) for p in addons)
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def request_cancel(self, cmd: CancelSubscription) -> WorkflowStatus:
        """R13: the requester confirms (seeing who holds its licenses), then another Global or
        Billing admin approves, then it is cancelled (or an admin task) and verified by polling."""
        action = f"cancel {cmd.subscription}"
        requester = self._authorize(cmd.requester, action, cmd.correlation_id, target=cmd.subscription)
        with self._refusals_audited(cmd.requester, action, cmd.correlation_id, target=cmd.subscription):
            products = self._directory.products()
            subscription = self._subscription_to_cancel(
                cmd.subscription, self._directory.subscriptions(), products
            )
        tenant = _Tenant(
            self._directory.organization(),
            products,
            [],
            {subscription.sku_id: self._directory.users_with_product(subscription.sku_id)},
        )
        with self._uow() as uow:
            busy = self._cancel_in_flight(uow, subscription.id)
            if busy is not None:
                refusal = DomainError(
                    f"Subscription {subscription.id} is already being cancelled (workflow {busy}).",
                    f"See `/subscription status {busy}`.",
                )
                self._refuse(uow, cmd.requester, action, refusal, cmd.correlation_id, target=cmd.subscription)
                raise refusal
            workflow = self._new_cancel(tenant, requester.name, subscription, channel=cmd.channel)
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    # ==============================================================================================
    # Decisions: buttons, approvals, admin tasks

    def decide(self, cmd: DecideStep) -> WorkflowStatus:
        """A choice at a waiting step (`WorkflowStatus.choices`), by the admin who started the
        workflow. A double click or a stale button finds the step no longer open (`StepNotOpen`).

        Confirming a preview starts the reassignment and returns when it is done: call it after
        Slack's acknowledgement; progress arrives through `Notifier.workflow_changed`.
        """
        try:
            step, choice = StepName(cmd.step), Choice(cmd.choice)
        except ValueError as unknown:
            raise DomainError(f"Unknown step or choice: {unknown}.", "Use the workflow's buttons.") from None
        action = f"{choice.label} at “{step.label}”"
        asker = self._authorization.identify(cmd.requester)
        with self._uow() as uow:
            seen = self._engine.load(uow, cmd.workflow_id)
        tenant = self._read_for(seen, choice)
        with self._uow() as uow:
            workflow = self._engine.load(uow, cmd.workflow_id, for_update=True)
            requester = self._authorization.authorize(
                uow, asker, Permission.MANAGE_SUBSCRIPTIONS, action, cmd.correlation_id
            )
            if requester.name.casefold() != workflow.requested_by.casefold():
                refusal = NotAuthorized(
                    requester.user.display_name,
                    "decide for a workflow that another admin started",
                    [],
                    f"Only {workflow.requested_by}, who started it, can.",
                )
                self._refuse(uow, cmd.requester, action, refusal, cmd.correlation_id, target=workflow.id)
                raise refusal
            workflow.choose(step, choice)
            follow_ups = self._apply_choice(uow, workflow, step, choice, requester.name, tenant)
            self._engine.audit(
                uow, workflow, requester.name, action, AuditResult.APPLIED, correlation_id=cmd.correlation_id
            )
            status = self._engine.commit(uow, workflow)
        self._engine.tell(self._notifier.workflow_changed, status)
        for follow_up in follow_ups:
            self._engine.tell(
                self._notifier.workflow_changed, self._engine.run(follow_up, cmd.correlation_id)
            )
        return self._engine.run(workflow.id, cmd.correlation_id)

    def approve(self, cmd: ApproveCancellation) -> WorkflowStatus:
        """R13: a different admin with Global or Billing admin approves; refused while users would
        lose access unless `accept_loss_of_access`. Two approvers at once, or a double click,
        cancel once: the workflow and the approval are locked and their state checked."""
        asker = self._authorization.identify(cmd.requester)
        with self._uow() as uow:
            found = uow.approvals.get(cmd.approval_id)
        losing = self._users_losing_access(found.subscription_id) if found is not None else 0
        with self._uow() as uow:
            approval, workflow = self._load_approval(uow, cmd.approval_id)
            action = f"approve: {approval.action}"
            now = self._clock.now()
            expired = self._expire(uow, workflow, approval, now) if approval.expire_if_due(now) else None
            if expired is None:
                approver = self._authorization.authorize(
                    uow, asker, Permission.APPROVE, action, cmd.correlation_id
                )
                try:
                    approval.approve(
                        approver.name,
                        approver.roles,
                        now,
                        users_losing_access=losing,
                        accept_loss_of_access=cmd.accept_loss_of_access,
                        approver_id=approver.user.id,
                        shown_as=approver.user.display_name,
                    )
                except DomainError as refusal:
                    self._refuse(uow, cmd.requester, action, refusal, cmd.correlation_id, target=workflow.id)
                    raise
                loss = (
                    f", confirming that {plural(losing, 'user')} {'loses' if losing == 1 else 'lose'} access"
                    if approval.accepted_loss_of_access
                    else ""
                )
                workflow.complete(StepName.APPROVAL, now, f"Approved by {approver.name}{loss}.")
                workflow.start(StepName.CANCEL, now)
                self._engine.claim(workflow, now)
                uow.approvals.save(approval)
                self._engine.audit(
                    uow,
                    workflow,
                    approver.name,
                    action,
                    AuditResult.APPLIED,
                    correlation_id=cmd.correlation_id,
                    approver=approver.name,
                    reason=f"users losing access: {losing}" if losing else "",
                )
                status = self._engine.commit(uow, workflow)
        if expired is not None:
            self._engine.tell(self._notifier.approval_closed, expired)
            self._engine.tell(self._notifier.workflow_changed, expired)
            raise ApprovalNotPending(ApprovalState.EXPIRED.value)
        self._engine.tell(self._notifier.approval_closed, status)
        self._engine.tell(self._notifier.workflow_changed, status)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def reject(self, cmd: RejectCancellation) -> WorkflowStatus:
        """An approver says no, or the requester withdraws: the cancellation stops."""
        asker = self._authorization.identify(cmd.requester)
        with self._uow() as uow:
            approval, workflow = self._load_approval(uow, cmd.approval_id)
            action = f"reject: {approval.action}"
            who = self._authorization.authorize(uow, asker, Permission.READ, action, cmd.correlation_id)
            now = self._clock.now()
            expired = self._expire(uow, workflow, approval, now) if approval.expire_if_due(now) else None
            if expired is None:
                try:
                    approval.reject(who.name, who.roles, now, cmd.reason, shown_as=who.user.display_name)
                except DomainError as refusal:
                    self._refuse(uow, cmd.requester, action, refusal, cmd.correlation_id, target=workflow.id)
                    raise
                reason = f": {approval.reason}" if approval.reason else ""
                workflow.cancel(now, f"Rejected by {who.name}{reason}.")
                uow.approvals.save(approval)
                self._engine.audit(
                    uow,
                    workflow,
                    who.name,
                    action,
                    AuditResult.CANCELLED,
                    correlation_id=cmd.correlation_id,
                    reason=cmd.reason,
                )
                status = self._engine.commit(uow, workflow)
        if expired is not None:
            self._engine.tell(self._notifier.approval_closed, expired)
            self._engine.tell(self._notifier.workflow_changed, expired)
            raise ApprovalNotPending(ApprovalState.EXPIRED.value)
        self._engine.tell(self._notifier.approval_closed, status)
        self._engine.tell(self._notifier.workflow_changed, status)
        return status

    def mark_task_done(self, cmd: MarkTaskDone) -> WorkflowStatus:
        """An admin says the admin-center task is done: the directory is checked at once, and the
        step completes only if it shows the result (R19)."""
        asker = self._authorization.identify(cmd.requester)
        with self._uow() as uow:
            found = uow.tasks.get(cmd.task_id)
            if found is None:
                raise UnknownTask(cmd.task_id)
            workflow = self._engine.load(uow, found.workflow_id)
        snapshot = self._engine.read(workflow)
        with self._uow() as uow:
            workflow = self._engine.load(uow, found.workflow_id, for_update=True)
            action = f"mark done: {found.title}"
            requester = self._authorization.authorize(
                uow, asker, Permission.MANAGE_SUBSCRIPTIONS, action, cmd.correlation_id
            )
            task = uow.tasks.get(cmd.task_id, for_update=True)
            if task is None:
                raise UnknownTask(cmd.task_id)
            now = self._clock.now()
            task.mark_done(requester.name, now)
            uow.tasks.save(task)
            step = workflow.current
            seen = self._engine.observe(uow, workflow, snapshot, now)
            if step is not None and step.name not in seen.completed and step.waiting_for is WaitFor.TASK:
                note = notes.task_not_seen(requester.name, task, now, seen.shown)
                workflow.wait(step.name, WaitFor.TASK, now, note, step.choices)
            verdict = "seen in the directory" if seen.completed else "not seen in the directory yet"
            self._engine.audit(
                uow,
                workflow,
                requester.name,
                action,
                AuditResult.REQUESTED,
                correlation_id=cmd.correlation_id,
                reason=verdict,
            )
            status = self._engine.commit(uow, workflow)
        self._engine.tell(self._notifier.workflow_changed, status)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def attach_message(self, workflow_id: str, channel: str, message_ts: str) -> None:
        """The Slack side posted the workflow's message: remember it, to update it in place."""
        with self._uow() as uow:
            workflow = self._engine.load(uow, workflow_id, for_update=True)
            workflow.channel, workflow.message_ts = channel, message_ts
            uow.workflows.save(workflow)
            uow.commit()

    def attach_approval_message(self, approval_id: str, channel: str, message_ts: str) -> None:
        """The Slack side posted the approval request: remember it, to update it when decided."""
        with self._uow() as uow:
            approval = uow.approvals.get(approval_id, for_update=True)
            if approval is None:
                raise UnknownApproval(approval_id)
            approval.channel, approval.message_ts = channel, message_ts
            uow.approvals.save(approval)
            uow.commit()

    # ==============================================================================================
    # Reading

    def status(self, requester: str, workflow_id: str | None = None) -> list[WorkflowStatus]:
        """One workflow, or those in flight followed by the latest finished ones."""
        self._authorization.authorize_now(requester, Permission.READ, "show workflows")
        with self._uow() as uow:
            if workflow_id:
                return [self._engine.status(uow, self._engine.load(uow, workflow_id))]
            flying = _in_flight(uow)
            seen = {w.id for w in flying}
            recent = [w for w in uow.workflows.recent(10) if w.id not in seen]
            return [self._engine.status(uow, w) for w in [*flying, *recent]]

    def in_flight(self, requester: str) -> list[WorkflowStatus]:
        """Workflows not finished, oldest first (App Home, `/subscription status`)."""
        self._authorization.authorize_now(requester, Permission.READ, "show workflows")
        with self._uow() as uow:
            return [self._engine.status(uow, w) for w in _in_flight(uow)]

    def waiting_on(self, user: str) -> WaitingOn:
        """What waits on this admin (App Home): approvals they may decide, their tasks, their choices."""
        me = self._authorization.authorize_now(user, Permission.READ, "show what waits on me")
        with self._uow() as uow:
            now, mine = self._clock.now(), me.name.casefold()
            approver = bool(me.roles & Permission.APPROVE.roles)
            approvals = [
                a
                for a in uow.approvals.pending()
                if approver and now < a.expires_at and a.requested_by.casefold() != mine
            ]
            tasks = [t for t in uow.tasks.open() if t.owner.casefold() == mine]
            flying = [w for w in _in_flight(uow) if w.requested_by.casefold() == mine]

            def status(workflow_id: str) -> WorkflowStatus:
                return self._engine.status(uow, self._engine.load(uow, workflow_id))

            choosing = [self._engine.status(uow, w) for w in flying]
            return WaitingOn(
                me.name,
                tuple(status(a.workflow_id) for a in approvals),
                tuple(status(t.workflow_id) for t in tasks),
                tuple(s for s in choosing if set(s.choices) - {Choice.ABORT}),
            )

    # ==============================================================================================
    # The scheduler

    def tick(self, now: datetime | None = None) -> TickReport:
        """One poll: expire overdue approvals, advance every workflow waiting on the tenant from ONE
        read of its subscriptions (and at most one of its products, when a waiting switch needs
        seat counts), then run what became ready, resume steps a crash left running and finish
        change sets a crash left half-applied.

        Every process on the database may tick; they share the work through leases, never through
        memory: the poll is leased for most of an interval (one replica reads the tenant, the
        others skip it), workflows are claimed with SKIP LOCKED, change sets by their lease.
        """
        now = now or self._clock.now()
        expired = self._expire_approvals(now)
        waiting: list[Workflow] = []
        polling = False
        snapshot = DirectorySnapshot(())
        with self._uow() as uow:
            poller = f"{self._engine.process}:poll"
            if uow.leases.claim(POLL_LEASE, poller, now, self._settings.poll_interval * 0.9):
                uow.commit()
                polling = True
                waiting = uow.workflows.waiting_for(POLLED_WAITS)
        # R22: renewals are watched from the same read of the subscriptions, which the poll therefore
        # makes at every tick it holds; the products are read only for a renewal newly due.
        if waiting or (polling and self._renewal_days):
            need_products = any(wants_products(w) for w in waiting)
            snapshot = DirectorySnapshot(
                tuple(self._directory.subscriptions()),
                tuple(self._directory.products()) if need_products else None,
            )
        # Sent before the workflows move on, so their updates stay the latest messages.
        renewals = self._renewals(snapshot, now) if polling else ()
        advanced = tuple(w.id for w in waiting if self._engine.advance(w.id, snapshot, now))
        resumed = tuple(self.resume())
        return TickReport(
            len(waiting), advanced, tuple(expired), resumed, tuple(self.finish_changes()), renewals
        )

    def _renewals(self, snapshot: DirectorySnapshot, now: datetime) -> tuple[Reminder, ...]:
        """Send the renewal alerts due (R22), each claimed once in the database first: a restart or
        another replica finds it claimed (at most once: a notifier that fails is logged). The
        licenses of disabled accounts are read only for the alerts claimed, after the claim's
        transaction ended."""
        if not self._renewal_days:
            return ()
        due = renewals_due(snapshot.subscriptions, now, self._renewal_days)
        if not due:
            return ()
        with self._uow() as uow:
            newly = [d for d in due if uow.keys.claim(f"reminder:{d.key}", now)]
            uow.commit()
        if not newly:
            return ()
        products = {p.sku_id: p for p in snapshot.products or self._directory.products()}
        claimed = [
            a for d in newly if (a := d.alert(products.get(d.subscription.sku_id), self._prices)) is not None
        ]
        if not claimed:
            return ()
        held = self._held_by_disabled_accounts()
        alerts = [
            a.with_reclaimable(None if held is None else held.get(a.subscription.sku_id, 0)) for a in claimed
        ]
        reminders = tuple(Reminder(ReminderKind.RENEWAL, "", renewal_text(a), renewal=a) for a in alerts)
        for reminder in reminders:
            try:
                self._notifier.reminder(reminder)
            except Exception:
                log.exception("a renewal alert could not be sent")
        return reminders

    def _held_by_disabled_accounts(self) -> dict[str, int] | None:
        """Licenses of disabled accounts by product (None: could not be read; the alert goes anyway)."""
        held: dict[str, int] = {}
        try:
            for page in self._directory.user_pages(UserQuery(enabled=False, licensed=True)):
                for user in page:
                    for lic in user.licenses:
                        held[lic.sku_id] = held.get(lic.sku_id, 0) + 1
        except DomainError:
            log.warning("the licenses of disabled accounts could not be read for a renewal alert")
            return None
        return held

    def resume(self, *, force: bool = False) -> list[str]:
        """Run every workflow whose current step is ready (pending) or was left running by a crash.

        Workflows are claimed in the database (SKIP LOCKED), so replicas resuming together split
        them. A running step is taken over once its lease has expired; `force` takes it over at
        once — only for a process that knows it is alone (a single replica starting up).
        """
        with self._uow() as uow:
            claimed = uow.workflows.claim_ready(
                self._engine.owner, self._clock.now(), self._settings.lease_ttl, force=force
            )
            uow.commit()
        resumed: list[str] = []
        for workflow_id in claimed:
            if self._stopping.is_set():
                break
            try:
                if force:
                    self._engine.take_over(workflow_id)
                self._engine.run(workflow_id)
                self._engine.release_if_idle(workflow_id)
            except Exception:
                log.exception("workflow %s could not be resumed; it is retried at the next tick", workflow_id)
            resumed.append(workflow_id)
        return resumed

    def finish_changes(self, *, force: bool = False) -> list[str]:
        """Finish the license changes (outside workflows too) that a crash, a restart or a stopped
        process left half-applied, and show each result where its progress was shown."""
        try:
            finished = self._licensing.resume_unfinished(force=force)
        except Exception:
            log.exception("unfinished license changes could not be resumed; retried at the next tick")
            return []
        for change_set_id in finished:
            with self._uow() as uow:
                change_set = uow.change_sets.get(change_set_id)
            if change_set is not None:
                try:
                    self._notifier.change_resumed(change_set)
                except Exception:
                    log.exception("the notifier failed for change set %s", change_set_id)
        return finished

    def stop(self) -> None:
        """The process is shutting down: no new work is taken, the change being applied stops
        after its batch; then `release_leases` gives back what this process held."""
        self._stopping.set()
        self._licensing.stop()

    def release_leases(self) -> int:
        """Give back every lease this process holds (workflows, change sets, the poll), so the
        other replicas take the work over at once instead of after the leases run out."""
        prefixes = {f"{self._engine.process}:", f"{self._licensing.process}:"}
        released = 0
        with self._uow() as uow:
            for prefix in prefixes:
                released += uow.workflows.release_owned(prefix)
                released += uow.leases.release_owned(prefix)
            uow.commit()
        return released

    def due_reminders(self, now: datetime | None = None) -> list[Reminder]:
        """What to remind whom now — the daily digest, approvals, tasks and choices waiting, overdue
        purchases — each once per interval: claimed, so replicas asking together do not repeat it.
        The scheduler sends them through `Notifier.reminder`."""
        now = now or self._clock.now()
        due: list[Reminder] = []
        with self._uow() as uow:
            statuses = [self._engine.status(uow, w) for w in _in_flight(uow)]
            # Daily even with nothing in flight: the digest carries the line on waste too (R22).
            candidates = [digest(statuses, now, self._settings)]
            for status in statuses:
                candidates.extend(reminders_for(status, now, self._settings))
            for key, reminder in filter(None, candidates):
                if uow.keys.claim(f"reminder:{key}", now):
                    due.append(reminder)
            uow.commit()
        # R22: the digest's line on waste, read once the digest is claimed (no transaction open).
        return [self._with_waste(r, now) if r.kind is ReminderKind.DIGEST else r for r in due]

    def _with_waste(self, reminder: Reminder, now: datetime) -> Reminder:
        try:
            disabled = [
                user
                for page in self._directory.user_pages(UserQuery(enabled=False, licensed=True))
                for user in page
            ]
            summary = waste_summary(
                self._directory.products(), self._directory.subscriptions(), disabled, now
            )
        except DomainError:
            log.warning("the digest goes without its line on waste: the tenant could not be read")
            return reminder
        return replace(reminder, text=f"{reminder.text} {waste_line(summary)}", waste=summary)

    # ==============================================================================================
    # Choices

    def _read_for(self, workflow: Workflow, choice: Choice) -> _Tenant | None:
        """What a choice needs of the tenant, read before its unit of work opens: the seats to buy,
        or the cleanup to start (the holders of what it may cancel)."""
        if choice is Choice.BUY_SEATS:
            return _Tenant(
                self._directory.organization(), self._directory.products(), self._directory.subscriptions()
            )
        if choice not in {Choice.CANCEL_OLD, Choice.REMOVE_SEATS, Choice.REMOVE_ADDONS}:
            return None
        skus = [a.sku_id for a in workflow.addons] if choice is Choice.REMOVE_ADDONS else []
        if workflow.source is not None and choice is not Choice.REMOVE_ADDONS:
            skus.append(workflow.source.sku_id)
        return _Tenant(
            self._directory.organization(),
            self._directory.products(),
            self._directory.subscriptions(),
            {sku: self._directory.users_with_product(sku) for sku in skus},
        )

    def _apply_choice(  # noqa: PLR0917 - the decision and what it was decided on
        self,
        uow: UnitOfWork,
        workflow: Workflow,
        step: StepName,
        choice: Choice,
        who: str,
        tenant: _Tenant | None,
    ) -> list[str]:
        """Move the workflow for the choice; returns the follow-up workflows it started."""
        now = self._clock.now()
        if choice is Choice.ABORT:
            self._abort(uow, workflow, step, who, now)
        elif choice is Choice.SKIP:
            workflow.skip(step, now, f"{workflow.step(step).note} Declined by {who}.".strip())
        elif choice is Choice.ADMIN_CENTER:
            link = admin_center(workflow.cloud).subscriptions
            workflow.hand_over(
                now, f"{who} chose the admin center's automatic path ({link}); nothing more here."
            )
        elif choice is Choice.MANUAL:
            workflow.complete(step, now, f"{who} chose to switch here, step by step.")
        elif choice in {Choice.BUY, Choice.RETRY}:
            workflow.start(step, now)
            self._engine.claim(workflow, now)
        elif choice is Choice.BUY_SEATS:
            self._plan_seat_purchase(_read(tenant), workflow, now)
        elif step is StepName.PREVIEW:
            self._confirm_preview(uow, workflow, who, now)
        elif step is StepName.CONFIRM:
            workflow.complete(step, now, f"Confirmed by {who}.")
        else:
            started = self._start_follow_ups(uow, workflow, choice, who, _read(tenant))
            workflow.follow_ups = (*workflow.follow_ups, *(f.id for f in started))
            listed = ", ".join(f"{f.summary} (workflow {f.id})" for f in started) or "nothing left to do"
            workflow.complete(step, now, f"{who} chose: {choice.label}. Started: {listed}.")
            return [f.id for f in started]
        return []

    def _abort(self, uow: UnitOfWork, workflow: Workflow, step: StepName, who: str, now: datetime) -> None:
        if workflow.change_set_id and step is StepName.PREVIEW:
            change_set = uow.change_sets.get(workflow.change_set_id, for_update=True)
            if change_set is not None and change_set.state is ChangeState.PREVIEWED:
                change_set.cancel()
                uow.change_sets.save(change_set)
        if workflow.task_id:
            task = uow.tasks.get(workflow.task_id, for_update=True)
            if task is not None:
                task.cancel(now, f"The workflow was stopped by {who}.")
                uow.tasks.save(task)
        workflow.cancel(now, f"Stopped by {who} at “{step.label}”.")

    def _plan_seat_purchase(self, tenant: _Tenant, workflow: Workflow, now: datetime) -> None:
        """Fix which subscription gets how many licenses before the step runs (retries are idempotent)."""
        products = {p.sku_id: p for p in tenant.products}
        target = products.get(workflow.product.sku_id)
        source = products.get(workflow.source.sku_id) if workflow.source else None
        missing = seats_wanted(workflow, source) - (target.seats.available if target else 0)
        subscriptions = tenant.subscriptions
        chosen = next(
            (s for s in subscriptions if s.id == workflow.subscription_id and s.status.is_active), None
        )
        if chosen is None:
            active = active_subscriptions(subscriptions, workflow.product.sku_id)
            if not active:
                raise SubscriptionNotActive(workflow.product.display_name, "not listed")
            chosen = active[0]
        if missing <= 0:
            workflow.complete(StepName.CHECK_SEATS, now, "Enough licenses are free now.")
            return
        workflow.subscription_id = chosen.id
        workflow.expected_total = chosen.total_licenses + missing
        workflow.start(StepName.CHECK_SEATS, now)
        self._engine.claim(workflow, now)

    def _confirm_preview(self, uow: UnitOfWork, workflow: Workflow, who: str, now: datetime) -> None:
        """Confirm the change set and start the reassignment in one commit; an expired preview is
        planned again instead."""
        change_set = uow.change_sets.get(workflow.change_set_id, for_update=True)
        if change_set is None:
            raise ChangeNotPending("gone (unknown change)")
        try:
            change_set.confirm(workflow.requested_by, now)
        except ChangeNotPending:
            if change_set.state is not ChangeState.EXPIRED:
                raise
            uow.change_sets.save(change_set)
            workflow.start(
                StepName.PREVIEW, now, "The preview expired before it was confirmed: planning a fresh one."
            )
            self._engine.claim(workflow, now)
            return
        uow.change_sets.save(change_set)
        workflow.complete(
            StepName.PREVIEW, now, f"Confirmed by {who}: {plural(len(change_set.items), 'user')} to move."
        )
        workflow.start(StepName.REASSIGN, now, f"Moving {plural(len(change_set.items), 'user')}…")
        self._engine.claim(workflow, now)
        self._licensing.hold(uow, change_set.id)

    def _start_follow_ups(
        self, uow: UnitOfWork, workflow: Workflow, choice: Choice, who: str, tenant: _Tenant
    ) -> list[Workflow]:
        """R12, R14: the cleanup offered, each as a workflow of its own — a cancellation (which asks for
        confirmation and approval, R13) when nobody holds the product, else removing unused seats."""
        products = {p.sku_id: p for p in tenant.products}
        subscriptions = tenant.subscriptions
        if choice is Choice.REMOVE_ADDONS:
            plans = [
                (products[a.sku_id], products[a.sku_id].seats.consumed == 0)
                for a in workflow.addons
                if a.sku_id in products
            ]
        elif workflow.source is not None and workflow.source.sku_id in products:
            plans = [(products[workflow.source.sku_id], choice is Choice.CANCEL_OLD)]
        else:
            plans = []
        started: list[Workflow] = []
        for product, cancel in plans:
            active = active_subscriptions(subscriptions, product.sku_id)
            if cancel:
                started.extend(
                    self._new_cancel(tenant, who, s, channel=workflow.channel, parent=workflow.id)
                    for s in active
                    if self._cancel_in_flight(uow, s.id) is None
                )
            elif active and (removable := min(product.seats.available, active[0].total_licenses - 1)) > 0:
                started.append(
                    self._new_seats(
                        tenant.organization,
                        who,
                        product,
                        active[0],
                        -removable,
                        channel=workflow.channel,
                        parent=workflow.id,
                    )
                )
        for follow_up in started:
            uow.workflows.add(follow_up)
            self._engine.audit(
                uow,
                follow_up,
                who,
                f"start: {follow_up.summary}",
                AuditResult.REQUESTED,
                reason=f"offered by workflow {workflow.id}",
            )
        return started

    # ==============================================================================================
    # Approvals expiring

    def _expire_approvals(self, now: datetime) -> list[str]:
        with self._uow() as uow:
            due = [a.id for a in uow.approvals.pending() if now >= a.expires_at]
        expired: list[str] = []
        for approval_id in due:
            with self._uow() as uow:
                approval, workflow = self._load_approval(uow, approval_id)
                if not approval.expire_if_due(now):
                    continue
                status = self._expire(uow, workflow, approval, now)
            expired.append(approval_id)
            self._engine.tell(self._notifier.approval_closed, status)
            self._engine.tell(self._notifier.workflow_changed, status)
        return expired

    def _expire(
        self, uow: UnitOfWork, workflow: Workflow, approval: Approval, now: datetime
    ) -> WorkflowStatus:
        """Commit an approval that just expired, and the cancellation it stops."""
        uow.approvals.save(approval)
        expiry = f"{approval.expires_at:%a %d %b %H:%M} UTC"
        note = f"The approval request expired at {expiry} without a decision."
        if not workflow.state.final:
            workflow.cancel(now, note)
        self._engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            f"approval expired: {approval.action}",
            AuditResult.CANCELLED,
            reason=note,
        )
        return self._engine.commit(uow, workflow)

    # ==============================================================================================
    # Building workflows

    def _new(
        self,
        organization: Organization,
        kind: WorkflowKind,
        requested_by: str,
        product: Product | ProductRef,
        *,
        channel: str,
    ) -> Workflow:
        now = self._clock.now()
        return Workflow(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            requested_by=requested_by,
            created_at=now,
            product=ProductRef.of(product) if isinstance(product, Product) else product,
            steps=fresh_steps(kind),
            updated_at=now,
            cloud=organization.cloud,
            country=organization.country_code,
            credit_check_days=self._settings.credit_check_business_days,
            channel=channel,
        )

    def _new_seats(
        self,
        organization: Organization,
        requested_by: str,
        product: Product,
        subscription: Subscription,
        delta: int,
        *,
        channel: str,
        parent: str = "",
    ) -> Workflow:
        workflow = self._new(organization, WorkflowKind.SEATS, requested_by, product, channel=channel)
        workflow.seats = delta
        workflow.subscription_id = subscription.id
        workflow.expected_total = subscription.total_licenses + delta
        workflow.parent_id = parent
        return workflow

    def _new_cancel(
        self,
        tenant: _Tenant,
        requested_by: str,
        subscription: Subscription,
        *,
        channel: str,
        parent: str = "",
    ) -> Workflow:
        """A cancellation starts waiting for its requester, who sees who still holds the licenses (R13)."""
        product = next((p for p in tenant.products if p.sku_id == subscription.sku_id), None)
        ref = (
            ProductRef.of(product)
            if product
            else ProductRef(subscription.sku_id, subscription.part_number, subscription.part_number)
        )
        workflow = self._new(tenant.organization, WorkflowKind.CANCEL, requested_by, ref, channel=channel)
        workflow.subscription_id = subscription.id
        workflow.parent_id = parent
        holders = [u.display_name for u in tenant.holders.get(subscription.sku_id, [])]
        note = notes.cancel_confirmation(
            ref, subscription, holders, users_losing_access(product, subscription)
        )
        workflow.wait(
            StepName.CONFIRM, WaitFor.CONFIRMATION, self._clock.now(), note, (Choice.CONFIRM, Choice.ABORT)
        )
        return workflow

    def _add(self, uow: UnitOfWork, workflow: Workflow, correlation_id: str) -> WorkflowStatus:
        """Keep a new workflow, audited (R20); the caller tells the Slack side after the commit."""
        uow.workflows.add(workflow)
        self._engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            f"start: {workflow.summary}",
            AuditResult.REQUESTED,
            correlation_id=correlation_id,
        )
        return self._engine.commit(uow, workflow)

    # ==============================================================================================
    # Validation

    def _source_and_target(
        self, source_key: str, target_key: str, products: Sequence[Product]
    ) -> tuple[Product, Product]:
        source = self._catalog.resolve(source_key, products)
        try:
            known = self._catalog.resolve_any(target_key, products)
        except AmbiguousProduct as ambiguous:
            known = self._switched_to(source, ambiguous)
        target = next((p for p in products if p.sku_id == known.sku_id), None) or _unowned(known)
        if target.sku_id == source.sku_id:
            raise DomainError(
                f"{source.display_name} is both the source and the target.", "Name two products."
            )
        check_on_sale(target.part_number, target.display_name)  # R14
        return source, target

    def _switched_to(self, source: Product, ambiguous: AmbiguousProduct) -> KnownProduct:
        """An alias that fits several products the tenant does not have yet ("E5" before any E5 is
        bought): the one the source switches to in Microsoft's switch paths, in the source's own
        family (Office 365 E3 → Office 365 E5); still several, the question stands."""
        paths = [part for part, _ in ambiguous.choices if (source.part_number, part) in SWITCH_PATHS]
        family = source.display_name.rsplit(" ", 1)[0]
        same = [part for part in paths if self._catalog.display_name(part).startswith(f"{family} ")]
        chosen = same if len(same) == 1 else paths
        known = self._catalog.known(chosen[0]) if len(chosen) == 1 else None
        if known is None:
            raise ambiguous
        return known

    def _switch_targets(
        self, organization: Organization, source: Product, users: Sequence[str], products: Sequence[Product]
    ) -> tuple[tuple[str, ...], int]:
        """Who moves: `(all,)` for everyone who holds the source, `has:PRODUCT`, or named users, each
        of whom must be in the organization (R8) and hold the source."""
        keys = [u.strip() for u in users if u.strip()]
        if not keys or any(k.casefold() == EVERYONE for k in keys):
            return (EVERYONE,), self._movable(source)
        if len(keys) == 1 and keys[0].casefold().startswith(HOLDERS_PREFIX):
            holders_of = self._catalog.resolve(keys[0][len(HOLDERS_PREFIX) :], products)
            if holders_of.sku_id == source.sku_id:
                return (EVERYONE,), self._movable(source)
            return (f"{HOLDERS_PREFIX}{holders_of.sku_id}",), self._movable(holders_of)
        chosen: dict[str, str] = {}
        for key in keys:
            user = self._directory.user(key)
            if user is None:
                raise UnknownUser(key)
            check_in_organization(user, organization)
            if not user.holds(source.sku_id):
                raise NothingToChange(
                    f"{user.display_name} does not hold {source.display_name}: nothing to switch.",
                    "Name only users who hold it, or use `all`.",
                )
            chosen.setdefault(user.id, user.user_principal_name)
        return tuple(chosen.values()), len(chosen)

    def _movable(self, product: Product) -> int:
        """Holders of the product a switch can move: not those who get it only from a group, whom
        the reassignment leaves out (R21: the group's own license is changed instead)."""
        if not product.seats.consumed:
            return 0
        holders = self._directory.users_with_product(product.sku_id)
        return sum(1 for user in holders if not user.only_inherited(product.sku_id))

    def _subscription_to_cancel(
        self, key: str, subscriptions: Sequence[Subscription], products: Sequence[Product]
    ) -> Subscription:
        by_id = by_id_suffix(key, subscriptions)
        if by_id is not None:
            if not by_id.status.is_active:
                raise SubscriptionNotActive(
                    self._catalog.display_name(by_id.part_number),
                    by_id.status.label,
                    "There is nothing to cancel.",
                )
            return by_id
        try:
            product = self._catalog.resolve(key, products)
        except UnknownProduct:
            known = sorted({self._catalog.display_name(s.part_number) for s in subscriptions})
            raise UnknownProduct(key, known=known) from None
        return only_active(product, subscriptions)

    def _cancel_in_flight(self, uow: UnitOfWork, subscription_id: str) -> str | None:
        for workflow in _in_flight(uow):
            if workflow.kind is WorkflowKind.CANCEL and workflow.subscription_id == subscription_id:
                return workflow.id
        return None

    def _users_losing_access(self, subscription_id: str) -> int:
        subscription = next((s for s in self._directory.subscriptions() if s.id == subscription_id), None)
        if subscription is None:
            return 0
        product = next((p for p in self._directory.products() if p.sku_id == subscription.sku_id), None)
        return users_losing_access(product, subscription)

    def _with_plans(self, product: Product) -> Product | None:
        """The target with its service plans, from the tenant or Microsoft's table (R14's add-ons)."""
        if product.service_plans:
            return product
        known = self._catalog.known(product.part_number)
        if known is None or not known.service_plans:
            return None
        return replace(
            product,
            service_plans=tuple(ServicePlan(p.id, p.name, p.display_name) for p in known.service_plans),
        )

    # ==============================================================================================
    # Small helpers

    def _authorize(self, email: str, action: str, correlation_id: str, *, target: str = "") -> Requester:
        return self._authorization.authorize_now(
            email, Permission.MANAGE_SUBSCRIPTIONS, action, correlation_id, target=target
        )

    @contextmanager
    def _refusals_audited(
        self, email: str, action: str, correlation_id: str, *, target: str = ""
    ) -> Iterator[None]:
        """A rule's refusal inside the block (which has no unit of work open) is audited in one of
        its own (R20), then raised."""
        try:
            yield
        except DomainError as refusal:
            with self._uow() as uow:
                self._refuse(uow, email, action, refusal, correlation_id, target=target)
            raise

    def _refuse(
        self,
        uow: UnitOfWork,
        email: str,
        action: str,
        refusal: DomainError,
        correlation_id: str,
        *,
        target: str = "",
    ) -> None:
        """R20, as for every refusal: `target` is the product, subscription, users or workflow."""
        self._authorization.audit_refusal(uow, email, action, refusal, correlation_id, target=target)

    def _load_approval(self, uow: UnitOfWork, approval_id: str) -> tuple[Approval, Workflow]:
        """Lock the workflow, then the approval: the same order everywhere, so no deadlock."""
        found = uow.approvals.get(approval_id)
        if found is None:
            raise UnknownApproval(approval_id)
        workflow = self._engine.load(uow, found.workflow_id, for_update=True)
        approval = uow.approvals.get(approval_id, for_update=True)
        if approval is None:
            raise UnknownApproval(approval_id)
        return approval, workflow


def _read(tenant: _Tenant | None) -> _Tenant:
    if tenant is None:  # `_read_for` reads for every choice that needs the tenant
        raise AssertionError("the tenant was not read for this choice")
    return tenant


def _in_flight(uow: UnitOfWork) -> list[Workflow]:
    return uow.workflows.in_state(WorkflowState.RUNNING, WorkflowState.WAITING)


def _unowned(known: KnownProduct) -> Product:
    """A product the tenant does not have yet (it will be bought): no seats."""
    plans = tuple(ServicePlan(p.id, p.name, p.display_name) for p in known.service_plans)
    return Product(known.sku_id, known.part_number, known.display_name, plans, Seats(0, 0))

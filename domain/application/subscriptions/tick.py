"""The scheduler's side of the subscription workflows: one poll of the tenant per tick (DESIGN.md §8),
resuming what a crash left running, renewal alerts and reminders (R22), and stopping cleanly."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from domain.application.subscriptions.builders import in_flight
from domain.application.subscriptions.decisions import WorkflowDecisions
from domain.application.workflow_engine import WorkflowEngine
from domain.errors import DomainError
from domain.ports import UserQuery
from domain.prices import Prices
from domain.waste import RENEWAL_ALERT_DAYS, renewal_text, renewals_due, waste_line, waste_summary
from domain.workflows import POLLED_WAITS, DirectorySnapshot, Reminder, Workflow
from domain.workflows.polling import wants_products
from domain.workflows.reminders import digest, reminders_for
from domain.workflows.views import ReminderKind

__all__ = ["POLL_LEASE", "TickReport", "WorkflowTicks"]

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


class WorkflowTicks:
    """What the scheduler calls: `tick`, `due_reminders`, and `stop` then `release_leases`."""

    def __init__(
        self,
        engine: WorkflowEngine,
        decisions: WorkflowDecisions,
        *,
        renewal_days: Sequence[int] = RENEWAL_ALERT_DAYS,
        prices: Prices | None = None,
    ) -> None:
        self._prices = prices or Prices()
        self._renewal_days = tuple(sorted({days for days in renewal_days if days > 0}, reverse=True))
        self._engine = engine
        self._decisions = decisions
        self._uow = engine.uow
        self._directory = engine.directory
        self._clock = engine.clock
        self._licensing = engine.licensing
        self._notifier = engine.notifier
        self._settings = engine.settings
        self._stopping = threading.Event()

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
        expired = self._decisions.expire_approvals(now)
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
            statuses = [self._engine.status(uow, w) for w in in_flight(uow)]
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

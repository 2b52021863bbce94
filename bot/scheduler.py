"""The workflow scheduler (APScheduler 3): every `POLL_INTERVAL_SECONDS`, one `WorkflowTicks.tick()`
(one directory read per tenant, whatever the number of pending items) and the reminders due, sent
through the notifier.

`licensebot serve` runs one in each worker process (unless `--no-scheduler`); `licensebot scheduler`
runs it alone. The scheduler only triggers work: what it does is claimed in the database (leases,
`SELECT … FOR UPDATE SKIP LOCKED`), so any number of them on one PostgreSQL database run each step
once, and one that dies leaves its work to the others once its leases run out. Stopping it
finishes the current batch and gives its leases back at once.

SQLite serves one process: a second scheduler on the same SQLite database is refused with a
message (a lease names the one that runs; one left by a process that died is taken over), and the
one scheduler takes over at once the work a crash left running (`OneSchedulerLock.take_over`).

A process serves first: starting the scheduler only writes to the database (the lease, the take
over); the work a restart finds unfinished is resumed by the first tick, on the scheduler's own
thread, while the process already answers Slack.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.bootstrap import Container
from domain.application.applier import change_set_lease
from domain.application.group_follows import FollowTick, GroupFollows
from domain.application.subscriptions.tick import TickReport, WorkflowTicks
from domain.changes import ChangeState
from domain.ports import Clock, Notifier, UnitOfWorkFactory

__all__ = ["OneSchedulerLock", "SchedulerRefused", "WorkflowScheduler", "start_scheduler"]

log = logging.getLogger(__name__)

_JOB_ID = "licensebot-workflow-tick"

SQLITE_SCHEDULER_LEASE = "scheduler:sqlite"


class SchedulerRefused(RuntimeError):
    """Another scheduler runs on this SQLite database."""


class OneSchedulerLock:
    """SQLite's one scheduler: a lease renewed at every tick, given back on shutdown.

    The lease names a process (`host:pid:nonce`); one held by a process of this host that no
    longer exists (killed) is taken over at once, so a restart after a crash is never refused.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, owner: str, ttl: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._owner = owner
        self._ttl = ttl

    def acquire(self) -> None:
        with self._uow() as uow:
            holder = uow.leases.holder(SQLITE_SCHEDULER_LEASE)
            now = self._clock.now()
            if holder is not None and holder.owner != self._owner:
                if holder.expires_at > now and _alive(holder.owner):
                    raise SchedulerRefused(refusal(holder.owner))
                uow.leases.release(SQLITE_SCHEDULER_LEASE, holder.owner)
            if not uow.leases.claim(SQLITE_SCHEDULER_LEASE, self._owner, now, self._ttl):
                raise SchedulerRefused(refusal("another process"))
            uow.commit()
        _LIVE.add(self._owner)

    def check(self) -> None:
        """Refuse now (before forking workers) if another scheduler runs, without claiming."""
        with self._uow() as uow:
            holder = uow.leases.holder(SQLITE_SCHEDULER_LEASE)
        if holder is not None and holder.expires_at > self._clock.now() and _alive(holder.owner):
            raise SchedulerRefused(refusal(holder.owner))

    def renew(self) -> None:
        with self._uow() as uow:
            if uow.leases.claim(SQLITE_SCHEDULER_LEASE, self._owner, self._clock.now(), self._ttl):
                uow.commit()
            else:
                log.error("another scheduler took this SQLite database over; this one keeps ticking")

    def take_over(self) -> int:
        """Alone on its database, this process takes over at once what a crash left running: the
        claims on workflows and the leases of change sets still applying (whoever held them is
        gone). Called before the process serves, when nothing of it holds a lease yet, so it only
        frees what a previous life held; the first tick then resumes that work under this
        process's own leases, in the background. Returns how many it took over."""
        with self._uow() as uow:
            taken = uow.workflows.release_owned("")
            for change_set_id in uow.change_sets.ids_in_state(ChangeState.APPLYING):
                lease = change_set_lease(change_set_id)
                holder = uow.leases.holder(lease)
                if holder is not None:
                    uow.leases.release(lease, holder.owner)
                    taken += 1
            uow.commit()
        return taken

    def release(self) -> None:
        _LIVE.discard(self._owner)
        with self._uow() as uow:
            uow.leases.release(SQLITE_SCHEDULER_LEASE, self._owner)
            uow.commit()


def refusal(holder: str) -> str:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    who = f"process {pid} on {host}" if pid else holder
    return (
        f"Another licensebot scheduler ({who}) already runs on this SQLite database, and SQLite "
        "serves one process. Stop it first (or run `licensebot serve --no-scheduler` beside it); "
        "to run several processes, use PostgreSQL (DATABASE_URL=postgresql+psycopg://…)."
    )


_LIVE: set[str] = set()
"""The scheduler lease owners alive in this process."""


def _alive(owner: str) -> bool:
    """Whether the process named in a lease owner may still run (only this host's can be checked).

    Our own pid under another owner is a previous life of this process's pid (a container restart
    reuses both the host name and the pid), unless a scheduler of this very process holds it."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:24] or not pid_text.isdigit():
        return True
    if int(pid_text) == os.getpid():
        return owner in _LIVE
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkflowScheduler:
    def __init__(
        self,
        ticks: WorkflowTicks,
        notifier: Notifier,
        *,
        interval_seconds: float,
        lock: OneSchedulerLock | None = None,
        follows: GroupFollows | None = None,
    ) -> None:
        self._ticks = ticks
        self._follows = follows
        self._notifier = notifier
        self._interval = interval_seconds
        self._one = lock
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()

    def run_once(self) -> TickReport:
        """One tick and the reminders it makes due; also what the scheduled job runs."""
        with self._lock:
            if self._one is not None:
                self._one.renew()
            report = self._ticks.tick()
            reminders = self._ticks.due_reminders()
            self._follow_groups()
        for reminder in reminders:
            try:
                self._notifier.reminder(reminder)
            except Exception:
                log.exception("a %s reminder could not be sent", reminder.kind.value)
        if report.advanced or report.expired_approvals or report.resumed or report.changes or reminders:
            log.info(
                "workflow tick",
                extra={
                    "action": "tick",
                    "polled": report.polled,
                    "advanced": len(report.advanced),
                    "expired": len(report.expired_approvals),
                    "resumed": len(report.resumed),
                    "changes": len(report.changes),
                    "reminders": len(reminders),
                },
            )
        return report

    def _follow_groups(self) -> FollowTick:
        """R21: the group changes Microsoft 365 is processing, followed from the database (a
        restart goes on where the last process stopped); a failure waits for the next tick."""
        if self._follows is None:
            return FollowTick()
        try:
            followed = self._follows.tick()
        except Exception:
            log.exception("following the groups being processed failed; it runs again at the next interval")
            return FollowTick()
        if followed.polled:
            log.info(
                "groups followed",
                extra={
                    "action": "group-processing",
                    "polled": len(followed.polled),
                    "completed": len(followed.completed),
                    "ended": len(followed.ended),
                },
            )
        return followed

    def start(self) -> None:
        """Take over what a crash left running (alone on SQLite), then tick every interval, the
        first tick at once: it resumes that work in the background, so whoever starts the
        scheduler (a worker loading its app, Socket Mode) serves without waiting for it.

        Raises `SchedulerRefused` when another scheduler runs on the same SQLite database."""
        if self._one is not None:
            self._one.acquire()
            taken = self._one.take_over()
            if taken:
                log.info(
                    "taking over work a restart found unfinished; it is resumed in the background",
                    extra={"action": "resume", "count": taken},
                )
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(
            self._tick_safely,
            "interval",
            seconds=self._interval,
            id=_JOB_ID,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started", extra={"action": "scheduler", "interval": self._interval})

    def shutdown(self) -> None:
        """Finish the current tick (a change being applied stops after its batch), then give back
        every lease this process holds, so the other replicas go on at once."""
        self._ticks.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        try:
            released = self._ticks.release_leases()
            if self._one is not None:
                self._one.release()
        except Exception:
            log.exception("could not give the leases back; they run out by themselves")
            return
        log.info("scheduler stopped", extra={"action": "scheduler", "count": released})

    def _tick_safely(self) -> None:
        try:
            self.run_once()
        except Exception:
            log.exception("the workflow tick failed; it runs again at the next interval")


def start_scheduler(container: Container) -> WorkflowScheduler:
    """A started scheduler on the container's services (one per process that schedules).

    Raises `SchedulerRefused` when another one runs on the same SQLite database."""
    settings = container.settings
    scheduler = WorkflowScheduler(
        container.subscriptions.ticks,
        container.notifier,
        interval_seconds=settings.poll_interval_seconds,
        lock=one_scheduler_lock(container),
        follows=container.group_follows,
    )
    scheduler.start()
    return scheduler


def one_scheduler_lock(container: Container) -> OneSchedulerLock | None:
    """SQLite's guard against a second scheduler; None on PostgreSQL (any number may run)."""
    settings = container.settings
    if not settings.is_sqlite:
        return None
    ttl = timedelta(seconds=max(3 * settings.poll_interval_seconds, 60.0))
    return OneSchedulerLock(container.uow, container.clock, container.services.licenses.changes.process, ttl)

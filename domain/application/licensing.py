"""License changes for users: one shape each — `with uow:` load, decide with the domain, commit.

Called by the Slack listeners (and the shell, through the same listeners) and by the workflows. A
change is authorized (R16, refusals audited), planned with the rules (R2–R8,
`domain.application.planning`), kept as a change set, and written to the tenant in batches (R17)
with an audit record per user (R20) through `domain.application.applier`. The tenant directory is
read before a unit of work opens or after it ends, never inside one (DESIGN.md §5).
"""

from __future__ import annotations

from datetime import timedelta

from domain.application.applier import BATCH_SIZE, LEASE_TTL, UNDO_TTL, ChangeApplier, Progress
from domain.application.authorization import Authorization, audit_target
from domain.application.change_sets import keep_change_set, load_change_set
from domain.application.planning import PREVIEW_TTL, ChangePlanner
from domain.audit import AuditEntry, AuditResult
from domain.catalog import ProductCatalog
from domain.changes import ChangeSet, ChangeState
from domain.commands import CancelChange, ChangeLicenses, ConfirmChange
from domain.errors import ChangeNotPending, NotAuthorized
from domain.model import Permission
from domain.ports import Clock, TenantDirectory, UnitOfWork, UnitOfWorkFactory

__all__ = ["Licensing"]


class Licensing:
    """Assign, replace and remove users' licenses: request, confirm, cancel, apply, resume (R1–R8,
    R16, R17, R20)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
        clock: Clock,
        catalog: ProductCatalog,
        *,
        preview_ttl: timedelta = PREVIEW_TTL,
        batch_size: int = BATCH_SIZE,
        undo_ttl: timedelta = UNDO_TTL,
        lease_ttl: timedelta = LEASE_TTL,
        owner: str | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._catalog = catalog
        self._authorization = Authorization(uow, directory, clock)
        self._planner = ChangePlanner(directory, clock, catalog, preview_ttl=preview_ttl)
        self._applier = ChangeApplier(
            uow, directory, clock, batch_size=batch_size, undo_ttl=undo_ttl, lease_ttl=lease_ttl, owner=owner
        )

    @property
    def process(self) -> str:
        """This process's part of every lease owner."""
        return self._applier.process

    @property
    def catalog(self) -> ProductCatalog:
        return self._catalog

    def hold(self, uow: UnitOfWork, change_set_id: str) -> None:
        """Take the change set's lease for this thread in `uow` (`ChangeApplier.hold`)."""
        self._applier.hold(uow, change_set_id)

    def stop(self) -> None:
        """The process is shutting down: changes being applied stop after their current batch."""
        self._applier.stop()

    def request_change(self, cmd: ChangeLicenses, progress: Progress | None = None) -> ChangeSet:
        """Plan a change. Changes that remove access stay previewed until confirmed; the rest
        are applied at once."""
        change_set = self.plan_change(cmd)
        if change_set.state is ChangeState.APPLYING:
            return self.apply(change_set.id, cmd.correlation_id, progress)
        return change_set

    def plan_change(self, cmd: ChangeLicenses) -> ChangeSet:
        """Plan and keep a change without writing to the tenant: previewed when it removes access,
        else already confirmed (`apply` writes it). Lets the caller show it before the long part.

        The tenant is read first, with no transaction open; the plan is then kept in one short one."""
        requester = self._authorization.authorize_now(
            cmd.requester,
            Permission.MANAGE_LICENSES,
            f"{cmd.kind} licenses",
            cmd.correlation_id,
            target=audit_target(cmd.users),
        )
        change_set, part_number = self._planner.plan(cmd, requester)
        with self._uow() as uow:
            keep_change_set(uow, change_set, part_number, cmd.correlation_id)
            uow.commit()
        return change_set

    def confirm(
        self,
        cmd: ConfirmChange,
        progress: Progress | None = None,
        *,
        confirmed: Progress | None = None,
    ) -> ChangeSet:
        """The requester confirms a preview; a second click finds it no longer pending.

        `confirmed` is called once the confirmation is accepted and kept, before anything is
        written (a shared message can then say "applying" without lying to other people).
        """
        action = "confirm a license change"
        authorization = self._authorization
        asker = authorization.identify(cmd.requester)
        with self._uow() as uow:
            # Locked until the commit: two clicks at once cannot both find it pending.
            change_set = load_change_set(uow, cmd.change_set_id, for_update=True)
            about = {"target": _target_of(change_set), "change_set_id": change_set.id}
            requester = authorization.authorize(
                uow, asker, Permission.MANAGE_LICENSES, action, cmd.correlation_id, **about
            )
            if requester.name.casefold() != change_set.requested_by.casefold():
                refusal = NotAuthorized(
                    requester.user.display_name,
                    "confirm a change that another admin asked for",
                    [],
                    f"Only {change_set.requested_by}, who asked for it, can confirm it.",
                )
                authorization.audit_refusal(uow, cmd.requester, action, refusal, cmd.correlation_id, **about)
                raise refusal
            now = self._clock.now()
            change_set.confirm(requester.name, now)
            if cmd.channel:
                change_set.channel, change_set.message_ts = cmd.channel, cmd.message_ts
            # The key commits with the state: a second click, on any replica, finds it claimed.
            if not uow.keys.claim(f"confirm:{change_set.id}", now):
                raise ChangeNotPending(ChangeState.APPLYING.value)
            self.hold(uow, change_set.id)
            uow.change_sets.save(change_set)
            uow.commit()
        if confirmed is not None:
            confirmed(change_set)
        return self.apply(change_set.id, cmd.correlation_id, progress)

    def cancel(self, cmd: CancelChange) -> ChangeSet:
        asker = self._authorization.identify(cmd.requester)
        with self._uow() as uow:
            change_set = load_change_set(uow, cmd.change_set_id, for_update=True)
            requester = self._authorization.authorize(
                uow,
                asker,
                Permission.MANAGE_LICENSES,
                "cancel a license change",
                cmd.correlation_id,
                target=_target_of(change_set),
                change_set_id=change_set.id,
            )
            change_set.cancel()
            uow.change_sets.save(change_set)
            uow.audit.record(
                AuditEntry(
                    at=self._clock.now(),
                    actor=requester.name,
                    action=f"{change_set.kind} licenses",
                    result=AuditResult.CANCELLED,
                    correlation_id=cmd.correlation_id,
                    change_set_id=change_set.id,
                )
            )
            uow.commit()
            return change_set

    def apply(
        self, change_set_id: str, correlation_id: str = "", progress: Progress | None = None
    ) -> ChangeSet:
        """Write a confirmed change set in batches, exactly once (`domain.application.applier`)."""
        return self._applier.apply(change_set_id, correlation_id, progress)

    def resume_unfinished(self, *, force: bool = False) -> list[str]:
        """Finish the change sets a crash or a stopped process left applying (the applier)."""
        return self._applier.resume_unfinished(force=force)

    def take_over(self, change_set_id: str) -> None:
        self._applier.take_over(change_set_id)


def _target_of(change_set: ChangeSet) -> str:
    return audit_target([item.change.user_principal_name for item in change_set.items])

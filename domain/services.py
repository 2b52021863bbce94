"""License services: one shape each — `with uow:` load, decide with the domain, commit, return.

Called by the Slack listeners (and the shell, through the same listeners). They check the
requester's roles (R16, refusals audited), plan the change with the rules (R2–R8), keep it as a
change set, and write it to the tenant in batches (R17) with an audit record per user (R20).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.audit import AuditEntry, AuditResult
from domain.catalog import ProductCatalog
from domain.changes import (
    ChangeItem,
    ChangeKind,
    ChangeSet,
    ChangeState,
    ItemStatus,
    OutcomeKind,
    plan_undo,
    plan_user_change,
    seats_needed,
    snapshot_products,
)
from domain.commands import (
    CancelChange,
    ChangeLicenses,
    ConfirmChange,
    ListSubscriptions,
    RetryFailed,
    ShowHome,
    ShowServices,
    ShowUser,
    UndoChange,
)
from domain.errors import (
    ChangeNotPending,
    DomainError,
    NotAuthorized,
    NothingToChange,
    OutsideOrganization,
    UndoNotAvailable,
    UnknownRequester,
    UnknownUser,
)
from domain.model import (
    AdminRole,
    LicenseAssignment,
    Permission,
    Product,
    Subscription,
    User,
    licenses_to_json,
)
from domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from domain.rules import check_seats, require, resolve_plans

__all__ = [
    "BATCH_SIZE",
    "HOLDERS_PREFIX",
    "LEASE_TTL",
    "UNDO_TTL",
    "HomeOverview",
    "Licensing",
    "Requester",
    "SubscriptionOverview",
    "UserOverview",
    "UserServices",
    "audit_target",
    "change_set_lease",
]

HOLDERS_PREFIX = "has:"
"""A target `has:E3` means everyone who holds the product."""

BATCH_SIZE = 20
"""R17: Graph's `$batch` takes at most 20 requests."""

UNDO_TTL = timedelta(minutes=60)
"""How long after a change its Undo button works, unless the service is given another time."""

LEASE_TTL = timedelta(minutes=5)
"""How long a process applying a change set holds it, renewed at every batch: another process
finishes the change once the lease has run out (the first one died)."""

log = logging.getLogger(__name__)


def change_set_lease(change_set_id: str) -> str:
    """The lease (`domain.ports.Leases`) held by whoever applies the change set."""
    return f"change-set:{change_set_id}"


RECENT_AUDIT_ENTRIES = 200
"""Audit entries read for "my recent changes": enough for several bulk changes of many users."""

Progress = Callable[[ChangeSet], None]


@dataclass(frozen=True, slots=True)
class Requester:
    user: User
    roles: frozenset[AdminRole]

    @property
    def name(self) -> str:
        return self.user.user_principal_name


@dataclass(frozen=True, slots=True)
class UserOverview:
    user: User
    products: dict[str, Product]


@dataclass(frozen=True, slots=True)
class SubscriptionOverview:
    products: list[Product]
    subscriptions: list[Subscription]


@dataclass(frozen=True, slots=True)
class UserServices:
    """One user's license of one product, to turn its services on or off (R5)."""

    user: User
    product: Product
    license: LicenseAssignment

    @property
    def enabled_plans(self) -> frozenset[str]:
        return self.product.plan_ids - self.license.disabled_plans


@dataclass(frozen=True, slots=True)
class HomeOverview:
    """What App Home shows a requester: products with their seats, subscriptions, and the audit
    entries of their own recent changes (newest first)."""

    requester: Requester
    products: list[Product]
    subscriptions: list[Subscription]
    recent: list[AuditEntry]


class Licensing:
    """Assign, replace, remove and show licenses (R1–R8, R16, R17, R20)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        catalog: ProductCatalog,
        *,
        preview_ttl: timedelta = timedelta(minutes=15),
        batch_size: int = BATCH_SIZE,
        undo_ttl: timedelta = UNDO_TTL,
        lease_ttl: timedelta = LEASE_TTL,
        owner: str | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._catalog = catalog
        self._preview_ttl = preview_ttl
        self._batch_size = batch_size
        self._undo_ttl = undo_ttl
        self._lease_ttl = lease_ttl
        self._process = owner or f"licensebot-{uuid.uuid4().hex[:8]}"
        self._stopping = threading.Event()

    @property
    def process(self) -> str:
        """This process's part of every lease owner (`owner` adds the thread)."""
        return self._process

    @property
    def owner(self) -> str:
        """Who holds the lease of a change set this thread applies (a process and its thread)."""
        return f"{self._process}:{threading.get_ident()}"

    def hold(self, uow: UnitOfWork, change_set_id: str, now: datetime) -> None:
        """Take the change set's lease for this thread in `uow`, with the confirmation that makes
        it applying: from that commit on, no other replica's scheduler starts it first."""
        uow.leases.claim(change_set_lease(change_set_id), self.owner, now, self._lease_ttl)

    def stop(self) -> None:
        """The process is shutting down: every change being applied stops after its current
        batch and gives its lease back, so another process finishes it at once."""
        self._stopping.set()

    @property
    def catalog(self) -> ProductCatalog:
        return self._catalog

    def requester(self, uow: UnitOfWork, email: str) -> Requester:
        user = uow.directory.user(email)
        if user is None:
            raise UnknownRequester(email)
        return Requester(user, uow.directory.admin_roles(user.id))

    def authorize(
        self,
        uow: UnitOfWork,
        email: str,
        permission: Permission,
        action: str,
        correlation_id: str = "",
        *,
        target: str = "",
        change_set_id: str = "",
    ) -> Requester:
        """R16, with the refusal audited in its own commit before it is raised: who asked, what,
        and for whom (`target`: the users as asked for; `change_set_id`: the change acted on)."""
        try:
            requester = self.requester(uow, email)
            require(requester.roles, permission, requester.user.display_name)
        except (NotAuthorized, UnknownRequester) as refusal:
            self.audit_refusal(
                uow, email, action, refusal, correlation_id, target=target, change_set_id=change_set_id
            )
            raise
        return requester

    def audit_refusal(
        self,
        uow: UnitOfWork,
        email: str,
        action: str,
        refusal: DomainError,
        correlation_id: str,
        *,
        target: str = "",
        change_set_id: str = "",
    ) -> None:
        """Record a refusal in its own commit, so raising it afterwards does not roll it back (R20):
        who asked, what, and for whom or what (`target`)."""
        uow.rollback()
        uow.audit.record(
            AuditEntry(
                at=self._clock.now(),
                actor=email,
                action=action[:200],
                result=AuditResult.REFUSED,
                target=target,
                reason=refusal.message,
                correlation_id=correlation_id,
                change_set_id=change_set_id,
            )
        )
        uow.commit()

    def refuse(self, who: str, action: str, refusal: DomainError, correlation_id: str) -> None:
        """Audit a refusal made before any tenant lookup, in its own unit of work (R24: a Slack
        account that may not act for anyone; R20)."""
        with self._uow() as uow:
            self.audit_refusal(uow, who, action, refusal, correlation_id)

    def show_user(self, cmd: ShowUser) -> UserOverview:
        with self._uow() as uow:
            self.authorize(uow, cmd.requester, Permission.READ, "show user", target=cmd.user)
            user = self._find_user(uow, cmd.user)
            products = {p.sku_id: p for p in uow.directory.products()}
            return UserOverview(user, products)

    def list_subscriptions(self, cmd: ListSubscriptions) -> SubscriptionOverview:
        with self._uow() as uow:
            self.authorize(uow, cmd.requester, Permission.READ, "list subscriptions")
            return SubscriptionOverview(uow.directory.products(), uow.directory.subscriptions())

    def request_change(self, cmd: ChangeLicenses, progress: Progress | None = None) -> ChangeSet:
        """Plan a change. Changes that remove access stay previewed until confirmed; the rest
        are applied at once."""
        change_set = self.plan_change(cmd)
        if change_set.state is ChangeState.APPLYING:
            return self.apply(change_set.id, cmd.correlation_id, progress)
        return change_set

    def plan_change(self, cmd: ChangeLicenses) -> ChangeSet:
        """Plan and keep a change without writing to the tenant: previewed when it removes access,
        else already confirmed (`apply` writes it). Lets the caller show it before the long part."""
        with self._uow() as uow:
            requester = self.authorize(
                uow,
                cmd.requester,
                Permission.MANAGE_LICENSES,
                f"{cmd.kind} licenses",
                cmd.correlation_id,
                target=audit_target(cmd.users),
            )
            change_set = self._plan(uow, cmd, requester)
            uow.commit()
        return change_set

    def _plan(
        self, uow: UnitOfWork, cmd: ChangeLicenses, requester: Requester, follow_up: _Slot | None = None
    ) -> ChangeSet:
        products = uow.directory.products()
        product = self._catalog.resolve(cmd.product, products)
        by_sku = {p.sku_id: p for p in products}
        turn_off = resolve_plans(product, cmd.turn_off)
        turn_on = resolve_plans(product, cmd.turn_on)
        users = self._find_users(uow, cmd.users)
        items: list[ChangeItem] = []
        refused: list[tuple[str, str]] = []
        unchanged: list[tuple[str, str]] = []
        first_refusal: DomainError | None = None
        org = uow.directory.organization()
        for user in users:
            try:
                change = plan_user_change(
                    cmd.kind, user, product, by_sku, org, turn_off=turn_off, turn_on=turn_on
                )
            except NothingToChange as nothing:
                first_refusal = first_refusal or nothing
                unchanged.append((user.display_name, nothing.message))
                continue
            except DomainError as refusal:
                if cmd.all_or_nothing:
                    raise
                first_refusal = first_refusal or refusal
                refused.append((user.display_name, refusal.message))
                continue
            items.append(ChangeItem(change))
        if not items:
            if len(users) == 1 and first_refusal is not None:
                raise first_refusal
            reasons = " ".join(_reason_line(name, why) for name, why in [*refused, *unchanged][:5])
            raise NothingToChange(f"Nothing to change for these users. {reasons}")
        check_seats(product, seats_needed((i.change for i in items), product.sku_id))
        now = self._clock.now()
        touched = _touched_skus(items, product.sku_id)
        change_set = ChangeSet(
            id=follow_up.change_set_id if follow_up else uuid.uuid4().hex,
            kind=cmd.kind,
            requested_by=requester.name,
            product_sku=product.sku_id,
            product_label=product.display_name,
            items=items,
            created_at=now,
            expires_at=now + self._preview_ttl,
            refused=refused,
            channel=cmd.channel,
            seats_before=product.seats.consumed,
            seats_total=product.seats.enabled,
            products=snapshot_products(products, touched),
            unchanged=unchanged,
            turn_off=tuple(sorted(turn_off)),
            turn_on=tuple(sorted(turn_on)),
            request_key=follow_up.key if follow_up else "",
        )
        if not cmd.kind.removes_access:
            change_set.confirm(requester.name, now)
        uow.change_sets.add(change_set)
        self._audit_request(uow, change_set, product.part_number, cmd.correlation_id)
        return change_set

    def _audit_request(
        self, uow: UnitOfWork, change_set: ChangeSet, product: str, correlation_id: str
    ) -> None:
        items = change_set.items
        uow.audit.record(
            AuditEntry(
                at=change_set.created_at,
                actor=change_set.requested_by,
                action=f"{change_set.kind} {product}",
                result=AuditResult.REQUESTED,
                target=", ".join(i.change.user_principal_name for i in items[:50]),
                correlation_id=correlation_id,
                change_set_id=change_set.id,
                details={
                    "users": len(items),
                    "refused": len(change_set.refused),
                    **({"undo_of": change_set.undo_of} if change_set.undo_of else {}),
                },
            )
        )

    def retry_failed(self, cmd: RetryFailed) -> ChangeSet:
        """A new change set for the users a finished change failed for, planned afresh from what
        they hold now (same rules and preview as the first). A second click finds the retry asked
        for already; once that retry is cancelled or has expired, it can be asked for again."""
        with self._uow() as uow:
            requester = self.authorize(
                uow,
                cmd.requester,
                Permission.MANAGE_LICENSES,
                "retry a license change",
                cmd.correlation_id,
                change_set_id=cmd.change_set_id,
            )
            original = self._load(uow, cmd.change_set_id, for_update=True)
            if original.state is not ChangeState.DONE:
                raise ChangeNotPending(original.state.value)
            failed = original.failed_items
            if not failed:
                raise NothingToChange("Nothing failed in this change, so there is nothing to retry.")
            slot, live = self._follow_up(uow, original, "retry", self._clock.now())
            if live is not None:
                raise ChangeNotPending("retried (a retry of it was asked for already)")
            if original.kind is ChangeKind.UNDO:
                retried = [ChangeItem(i.change) for i in failed]
                change_set = self._undo_set(
                    uow, original, retried, refused=[], unchanged=[], requester=requester, slot=slot
                )
                self._audit_request(uow, change_set, original.product_label, cmd.correlation_id)
            else:
                again = ChangeLicenses(
                    kind=original.kind,
                    requester=requester.name,
                    users=tuple(item.change.user_id for item in failed),
                    product=original.product_sku,
                    turn_off=original.turn_off,
                    turn_on=original.turn_on,
                    correlation_id=cmd.correlation_id,
                    channel=original.channel,
                )
                change_set = self._plan(uow, again, requester, slot)
            uow.commit()
        return change_set

    def request_undo(self, cmd: UndoChange) -> ChangeSet:
        """Preview putting everyone a finished change wrote to back to what they held before.

        Users changed since are refused with the reason; the undo itself is confirmed like any
        change that removes access, written like any change, and audited (R20).
        """
        with self._uow() as uow:
            requester = self.authorize(
                uow,
                cmd.requester,
                Permission.MANAGE_LICENSES,
                "undo a license change",
                cmd.correlation_id,
                change_set_id=cmd.change_set_id,
            )
            original = self._load(uow, cmd.change_set_id, for_update=True)
            now = self._clock.now()
            if original.state is not ChangeState.DONE:
                raise UndoNotAvailable(
                    f"This change is {original.state.value}, not done, so it cannot be undone."
                )
            if not original.can_undo(now):
                until = original.undoable_until
                raise UndoNotAvailable(
                    "This change can no longer be undone"
                    + (f": the undo expired at {until:%Y-%m-%d %H:%M} UTC." if until else ".")
                )
            slot, live = self._follow_up(uow, original, "undo", now)
            if live is not None:
                raise ChangeNotPending(
                    "undone"
                    if live.state is ChangeState.DONE
                    else "being undone (an undo of it was asked for already)"
                )
            wrote = [i for i in original.items if i.status is ItemStatus.APPLIED]
            current = {i.change.user_id: uow.directory.user(i.change.user_id) for i in wrote}
            items, refused, unchanged = plan_undo(original, current)
            if not items:
                reasons = "; ".join(f"{name}: {why}" for name, why in refused[:5])
                raise UndoNotAvailable(f"Nothing to undo: every user changed since. {reasons}")
            change_set = self._undo_set(
                uow, original, items, refused=refused, unchanged=unchanged, requester=requester, slot=slot
            )
            self._audit_request(uow, change_set, original.product_label, cmd.correlation_id)
            uow.commit()
        return change_set

    def _undo_set(
        self,
        uow: UnitOfWork,
        original: ChangeSet,
        items: list[ChangeItem],
        *,
        refused: list[tuple[str, str]],
        unchanged: list[tuple[str, str]],
        requester: Requester,
        slot: _Slot,
    ) -> ChangeSet:
        products = uow.directory.products()
        by_sku = {p.sku_id: p for p in products}
        changes = [i.change for i in items]
        for sku in sorted({sku for change in changes for sku in change.gained}):
            if sku in by_sku:
                check_seats(by_sku[sku], seats_needed(changes, sku))  # R2: seats given back may be gone
        now = self._clock.now()
        product = by_sku.get(original.product_sku)
        change_set = ChangeSet(
            id=slot.change_set_id,
            kind=ChangeKind.UNDO,
            requested_by=requester.name,
            product_sku=original.product_sku,
            product_label=original.product_label,
            items=items,
            created_at=now,
            expires_at=now + self._preview_ttl,
            refused=refused,
            channel=original.channel,
            undo_of=original.undo_of if original.kind is ChangeKind.UNDO else original.id,
            seats_before=product.seats.consumed if product else original.seats_before,
            seats_total=product.seats.enabled if product else original.seats_total,
            products=snapshot_products(products, _touched_skus(items, original.product_sku))
            or dict(original.products),
            unchanged=unchanged,
            request_key=slot.key,
        )
        uow.change_sets.add(change_set)
        return change_set

    def _follow_up(
        self, uow: UnitOfWork, original: ChangeSet, purpose: str, now: datetime
    ) -> tuple[_Slot, ChangeSet | None]:
        """Where a new retry or undo (`purpose`) of `original` goes, and the one still live if any.

        Follow-ups have ids derived from the original and a count, so every replica finds the
        earlier ones, and the caller's lock on the original's row makes askers take turns (the
        unique id and request key back that up). Only a previewed, applying or done follow-up
        stands in the way: once cancelled or expired, the person can ask again.
        """
        attempt = 0
        while True:
            key = f"{purpose}:{original.id}" + (f":{attempt}" if attempt else "")
            slot = _Slot(uuid.uuid5(_FOLLOW_UPS, key).hex, key)
            earlier = uow.change_sets.get(slot.change_set_id, for_update=True)
            if earlier is None:
                return slot, None
            if not _ended(earlier, now):
                return slot, earlier
            attempt += 1

    def services_of(self, cmd: ShowServices) -> UserServices:
        """A user's license of a product with its services, to turn them on or off (R5)."""
        with self._uow() as uow:
            self.authorize(uow, cmd.requester, Permission.READ, "show services", target=cmd.user)
            user = self._find_user(uow, cmd.user)
            product = self._catalog.resolve(cmd.product, uow.directory.products())
            held = user.license_for(product.sku_id)
            if held is None:
                raise NothingToChange(
                    f"{user.display_name} has no {product.display_name} license, "
                    "so it has no services to change.",
                    "Assign it first (`/license assign`), then turn its services on or off.",
                )
            return UserServices(user, product, held)

    def home(self, cmd: ShowHome) -> HomeOverview:
        """The requester's overview for App Home: seats, subscriptions and their recent changes."""
        with self._uow() as uow:
            requester = self.authorize(uow, cmd.requester, Permission.READ, "show the overview")
            return HomeOverview(
                requester,
                uow.directory.products(),
                uow.directory.subscriptions(),
                uow.audit.recent(limit=RECENT_AUDIT_ENTRIES, actor=requester.name),
            )

    def first_delivery(self, key: str) -> bool:
        """True the first time a request with this key arrives; False for a redelivery of it
        (a Slack retry), which must then do nothing. Claimed in the database, so it holds
        whichever replica the retry reaches."""
        with self._uow() as uow:
            claimed = uow.keys.claim(key, self._clock.now())
            uow.commit()
        return claimed

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
        with self._uow() as uow:
            # Locked until the commit: two clicks at once cannot both find it pending.
            change_set = self._load(uow, cmd.change_set_id, for_update=True)
            about = {"target": _target_of(change_set), "change_set_id": change_set.id}
            requester = self.authorize(
                uow, cmd.requester, Permission.MANAGE_LICENSES, action, cmd.correlation_id, **about
            )
            if requester.name.casefold() != change_set.requested_by.casefold():
                refusal = NotAuthorized(
                    requester.user.display_name,
                    "confirm a change that another admin asked for",
                    [],
                    f"Only {change_set.requested_by}, who asked for it, can confirm it.",
                )
                self.audit_refusal(uow, cmd.requester, action, refusal, cmd.correlation_id, **about)
                raise refusal
            now = self._clock.now()
            change_set.confirm(requester.name, now)
            if cmd.channel:
                change_set.channel, change_set.message_ts = cmd.channel, cmd.message_ts
            # The key commits with the state: a second click, on any replica, finds it claimed.
            if not uow.keys.claim(f"confirm:{change_set.id}", now):
                raise ChangeNotPending(ChangeState.APPLYING.value)
            self.hold(uow, change_set.id, now)
            uow.change_sets.save(change_set)
            uow.commit()
        if confirmed is not None:
            confirmed(change_set)
        return self.apply(change_set.id, cmd.correlation_id, progress)

    def cancel(self, cmd: CancelChange) -> ChangeSet:
        with self._uow() as uow:
            change_set = self._load(uow, cmd.change_set_id, for_update=True)
            requester = self.authorize(
                uow,
                cmd.requester,
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
        """Write a confirmed change set in batches; resumable after a crash at any point.

        Each batch is marked as being sent and committed before the write, so a restart knows to
        verify those users rather than write blindly; the write, the outcomes and their audit
        records are then committed together.

        Whoever applies holds the change set's lease, renewed at every batch: a change another
        live process is applying is returned as it is (still applying), and one whose process
        died is finished by the next one to try once the lease has run out. When this process is
        stopping (`stop`), the lease is given back after the current batch.
        """
        return self._apply(change_set_id, correlation_id, progress)[0]

    def _apply(
        self, change_set_id: str, correlation_id: str = "", progress: Progress | None = None
    ) -> tuple[ChangeSet, bool]:
        """`apply`, and whether this call held the change at all (False: it was finished already,
        or another process holds it)."""
        lease, owner = change_set_lease(change_set_id), self.owner
        held = False
        kept: ChangeSet | None = None
        try:
            while True:
                change_set, held, wrote = self._apply_batch(
                    change_set_id, lease, owner, correlation_id, held=held, kept=kept
                )
                if not wrote:  # finished, someone else's, or this process is stopping
                    return change_set, held
                kept = change_set
                if progress is not None:
                    progress(change_set)
        except BaseException:
            self._give_back(lease, owner)  # a failure, not a death: let the next tick retry now
            raise

    def _apply_batch(
        self,
        change_set_id: str,
        lease: str,
        owner: str,
        correlation_id: str,
        *,
        held: bool,
        kept: ChangeSet | None,
    ) -> tuple[ChangeSet, bool, bool]:
        """One batch: (the change set after it, whether we hold it, whether a batch was written).
        Stops before writing when the change is finished, held by another process, or this process
        is stopping. `kept` is the change set as this thread left it after its previous batch.

        Only the batch is saved (`save_progress`), so a batch costs the same at the 20th user as
        at the 2,000th."""
        with self._uow() as uow:
            change_set, ours = self._lock(uow, change_set_id, lease, owner, kept)
            if change_set.state is not ChangeState.APPLYING:
                uow.leases.release(lease, owner)
                uow.commit()
                return change_set, held, False
            if self._stopping.is_set():
                uow.leases.release(lease, owner)
                uow.commit()
                log.info("stopping: change set %s is left to another process", change_set_id)
                return change_set, held, False
            if not ours and not uow.leases.claim(lease, owner, self._clock.now(), self._lease_ttl):
                return change_set, False, False  # another process is applying it
            batch = change_set.next_batch(self._batch_size)
            if not batch:  # every item already final: the set is done
                self._finish(change_set)
                uow.change_sets.save_progress(change_set, [])
                uow.leases.release(lease, owner)
                uow.commit()
                return change_set, True, False
            verify = any(item.status is ItemStatus.SENDING for item in batch)
            change_set.mark_sending(batch)
            uow.change_sets.save_progress(change_set, batch)
            uow.commit()
        with self._uow() as uow:
            change_set, ours = self._lock(uow, change_set_id, lease, owner, change_set)
            if change_set.state is not ChangeState.APPLYING:
                return change_set, held, False
            if not ours and not uow.leases.claim(lease, owner, self._clock.now(), self._lease_ttl):
                return change_set, False, False  # taken over meanwhile: the batch is the new holder's
            pending = {i.change.user_id for i in batch}
            batch = [i for i in change_set.items if i.change.user_id in pending]
            outcomes = uow.directory.apply([i.change for i in batch], verify=verify)
            now = self._clock.now()
            for outcome in outcomes:
                item = change_set.record(outcome)
                applied = outcome.kind in {OutcomeKind.APPLIED, OutcomeKind.ALREADY_APPLIED}
                uow.audit.record(
                    AuditEntry(
                        at=now,
                        actor=change_set.requested_by,
                        action=f"{change_set.kind} {change_set.product_label}",
                        result=AuditResult.APPLIED if applied else AuditResult.FAILED,
                        target=item.change.user_principal_name,
                        before=licenses_to_json(item.change.before),
                        after=licenses_to_json(item.change.after),
                        reason=outcome.reason or outcome.kind.value,
                        correlation_id=correlation_id,
                        change_set_id=change_set.id,
                    )
                )
            self._finish(change_set)
            uow.change_sets.save_progress(change_set, batch)
            uow.commit()
        return change_set, True, True

    def _lock(
        self, uow: UnitOfWork, change_set_id: str, lease: str, owner: str, kept: ChangeSet | None
    ) -> tuple[ChangeSet, bool]:
        """The change set, its row locked, and whether this thread still holds its lease.

        When this thread has held the lease without a break since it last saved `kept`, no other
        process can have written the change since: only its row is locked and `kept` is used as it
        is. Otherwise (a first batch, or the lease was lost meanwhile) the change set is read again
        whole and the lease must be claimed."""
        if kept is not None:
            state = uow.change_sets.lock_state(change_set_id)
            if state is ChangeState.APPLYING and uow.leases.renew(
                lease, owner, self._clock.now(), self._lease_ttl
            ):
                return kept, True
        return self._load(uow, change_set_id, for_update=True), False

    def _give_back(self, lease: str, owner: str) -> None:
        try:
            with self._uow() as uow:
                uow.leases.release(lease, owner)
                uow.commit()
        except Exception:  # the database may be what failed; the lease then simply runs out
            log.warning("could not give back %s; it runs out by itself", lease, exc_info=True)

    def _finish(self, change_set: ChangeSet) -> None:
        """A change that is done and wrote something can be undone for a while."""
        wrote = any(item.status is ItemStatus.APPLIED for item in change_set.items)
        if change_set.state is ChangeState.DONE and change_set.undoable_until is None and wrote:
            change_set.undoable_until = self._clock.now() + self._undo_ttl

    def resume_unfinished(self, *, force: bool = False) -> list[str]:
        """Finish every change set a crash, a restart or a stopped process left in the middle of
        applying; returns those finished. One that a live process is applying is left to it;
        `force` takes them all over at once — only for a process that knows it is alone."""
        with self._uow() as uow:
            unfinished = uow.change_sets.ids_in_state(ChangeState.APPLYING)
        finished: list[str] = []
        for change_set_id in unfinished:
            if self._stopping.is_set():
                break
            if force:
                self.take_over(change_set_id)
            change_set, held = self._apply(change_set_id)
            if held and change_set.state is not ChangeState.APPLYING:
                finished.append(change_set_id)
        return finished

    def take_over(self, change_set_id: str) -> None:
        """Drop whatever lease the change set has, so this thread applies it next."""
        lease = change_set_lease(change_set_id)
        with self._uow() as uow:
            holder = uow.leases.holder(lease)
            if holder is not None:
                uow.leases.release(lease, holder.owner)
                uow.commit()

    def _load(self, uow: UnitOfWork, change_set_id: str, *, for_update: bool = False) -> ChangeSet:
        change_set = uow.change_sets.get(change_set_id, for_update=for_update)
        if change_set is None:
            raise ChangeNotPending("gone (unknown change)")
        return change_set

    def _find_user(self, uow: UnitOfWork, key: str) -> User:
        user = uow.directory.user(key)
        if user is not None:
            return user
        if "@" in key:
            org = uow.directory.organization()
            if not org.owns_address(key):  # R8: another organization's user, not a typo of ours
                raise OutsideOrganization(key, sorted(org.verified_domains))
        raise UnknownUser(key)

    def _find_users(self, uow: UnitOfWork, keys: Sequence[str]) -> list[User]:
        seen: dict[str, User] = {}
        for key in keys:
            if key.casefold().startswith(HOLDERS_PREFIX):
                product = self._catalog.resolve(key[len(HOLDERS_PREFIX) :], uow.directory.products())
                holders = uow.directory.users_with_product(product.sku_id)
                if not holders:
                    raise NothingToChange(
                        f"Nobody holds {product.display_name}, so `{key}` selects no users.",
                        "Name the users instead, or check the product with `/subscription list`.",
                    )
                for holder in holders:
                    seen.setdefault(holder.id, holder)
                continue
            user = self._find_user(uow, key)
            seen.setdefault(user.id, user)
        if not seen:
            raise UnknownUser("(nobody)")
        return list(seen.values())


AUDITED_TARGETS = 50
"""Users named in one audit entry's target; the rest are counted."""


def audit_target(keys: Sequence[str]) -> str:
    """Who a request is for, as asked (emails, user principal names, `has:E3`), for the audit."""
    shown = ", ".join(keys[:AUDITED_TARGETS])
    more = len(keys) - AUDITED_TARGETS
    return f"{shown} and {more} more" if more > 0 else shown


def _target_of(change_set: ChangeSet) -> str:
    return audit_target([item.change.user_principal_name for item in change_set.items])


@dataclass(frozen=True, slots=True)
class _Slot:
    """The id and request key a follow-up change set (a retry or an undo) is kept under."""

    change_set_id: str
    key: str


_FOLLOW_UPS = uuid.UUID("5f0c1f7e-3c1b-4b7e-9a51-6d2f1e0b8a44")
"""Namespace of the ids of follow-up change sets (`uuid5` of their request key)."""


def _ended(change_set: ChangeSet, now: datetime) -> bool:
    """Cancelled, or a preview nobody confirmed in time (expired, whether or not marked so yet)."""
    if change_set.state is ChangeState.PREVIEWED:
        return now >= change_set.expires_at
    return change_set.state in {ChangeState.CANCELLED, ChangeState.EXPIRED}


def _touched_skus(items: Iterable[ChangeItem], product_sku: str) -> set[str]:
    skus = {product_sku}
    for item in items:
        skus.update(lic.sku_id for lic in item.change.before)
        skus.update(lic.sku_id for lic in item.change.after)
    return skus


def _reason_line(name: str, why: str) -> str:
    """One user's reason as a sentence: named once (the reason may start with the name already),
    ending with one full stop."""
    sentence = why.strip()
    if not sentence.startswith(name):
        sentence = f"{name}: {sentence}"
    return sentence if sentence.endswith((".", "!", "?")) else f"{sentence}."

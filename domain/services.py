"""License services: one shape each — `with uow:` load, decide with the domain, commit, return.

Called by the Slack listeners (and the shell, through the same listeners). They check the
requester's roles (R16, refusals audited), plan the change with the rules (R2–R8), keep it as a
change set, and write it to the tenant in batches (R17) with an audit record per user (R20) through
`domain.applier`. The tenant directory is read before a unit of work opens or after it ends, never
inside one (DESIGN.md §5).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.applier import BATCH_SIZE, LEASE_TTL, UNDO_TTL, ChangeApplier, Progress, change_set_lease
from domain.audit import AuditEntry, AuditResult
from domain.catalog import ProductCatalog
from domain.changes import (
    ChangeItem,
    ChangeKind,
    ChangeSet,
    ChangeState,
    ItemStatus,
    plan_undo,
    plan_user_change,
    seats_needed,
    snapshot_products,
)
from domain.commands import (
    CancelChange,
    ChangeGroupLicense,
    ChangeLicenses,
    ConfirmChange,
    ListSubscriptions,
    RetryFailed,
    ShowChange,
    ShowGroup,
    ShowHome,
    ShowServices,
    ShowUser,
    UndoChange,
)
from domain.errors import (
    AmbiguousChange,
    ChangeNotPending,
    DomainError,
    LicenseInherited,
    NotAuthorized,
    NothingToChange,
    OutsideOrganization,
    UndoNotAvailable,
    UnknownChange,
    UnknownRequester,
    UnknownUser,
)
from domain.group_licensing import (
    GROUP_PREFIX,
    AmbiguousGroup,
    UnknownGroup,
    group_as_target,
    kept_through_groups,
    plan_group_change,
)
from domain.model import (
    AdminRole,
    Group,
    LicenseAssignment,
    Permission,
    ProcessingState,
    Product,
    Subscription,
    User,
)
from domain.ports import Clock, TenantDirectory, UnitOfWork, UnitOfWorkFactory
from domain.rules import check_seats, require, resolve_plans
from domain.waste import reclaim_changes

__all__ = [
    "BATCH_SIZE",
    "HOLDERS_PREFIX",
    "LEASE_TTL",
    "UNDO_TTL",
    "Asker",
    "GroupOverview",
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

log = logging.getLogger(__name__)

RECENT_AUDIT_ENTRIES = 200
"""Audit entries read for "my recent changes": enough for several bulk changes of many users."""


@dataclass(frozen=True, slots=True)
class Requester:
    user: User
    roles: frozenset[AdminRole]

    @property
    def name(self) -> str:
        return self.user.user_principal_name


@dataclass(frozen=True, slots=True)
class Asker:
    """Who sends a request, as the tenant directory knows them: read before any unit of work opens
    (`Licensing.identify`), then authorized inside one without another directory call."""

    email: str
    requester: Requester | None
    """None: the address matches no user of the tenant."""


@dataclass(frozen=True, slots=True)
class UserOverview:
    user: User
    products: dict[str, Product]
    groups: dict[str, str] = field(default_factory=dict)
    """Names of the groups the user gets licenses from, by object id (R21)."""


@dataclass(frozen=True, slots=True)
class GroupOverview:
    """A Microsoft Entra group's own licenses, its members and those in error (R21)."""

    group: Group
    products: dict[str, Product]
    members: list[User]
    in_error: list[User]


@dataclass(frozen=True, slots=True)
class SubscriptionOverview:
    products: list[Product]
    subscriptions: list[Subscription]
    groups: list[Group] = field(default_factory=list)
    """Groups that give licenses, with their members counted: the seats they take (R21)."""


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
    groups: list[Group] = field(default_factory=list)
    """Groups that give licenses, with their members counted (R21)."""


class Licensing:
    """Assign, replace, remove and show licenses (R1–R8, R16, R17, R20)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
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
        self._directory = directory
        self._clock = clock
        self._catalog = catalog
        self._preview_ttl = preview_ttl
        self._applier = ChangeApplier(
            uow, directory, clock, batch_size=batch_size, undo_ttl=undo_ttl, lease_ttl=lease_ttl, owner=owner
        )

    @property
    def process(self) -> str:
        """This process's part of every lease owner."""
        return self._applier.process

    @property
    def directory(self) -> TenantDirectory:
        return self._directory

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def preview_ttl(self) -> timedelta:
        return self._preview_ttl

    def keep(self, change_set: ChangeSet, label: str, correlation_id: str = "") -> None:
        """Keep a change set planned elsewhere (a reclaim, R22) with its audited request, in one
        short transaction: from then on it is confirmed, applied, retried and undone like any other."""
        with self._uow() as uow:
            self._keep(uow, change_set, label, correlation_id)
            uow.commit()

    def hold(self, uow: UnitOfWork, change_set_id: str) -> None:
        """Take the change set's lease for this thread in `uow` (`ChangeApplier.hold`)."""
        self._applier.hold(uow, change_set_id)

    def stop(self) -> None:
        """The process is shutting down: changes being applied stop after their current batch."""
        self._applier.stop()

    @property
    def catalog(self) -> ProductCatalog:
        return self._catalog

    def identify(self, email: str) -> Asker:
        """Who asks, read from the tenant directory: call it before opening a unit of work."""
        user = self._directory.user(email)
        if user is None:
            return Asker(email, None)
        return Asker(email, Requester(user, self._directory.admin_roles(user.id)))

    def authorize(
        self,
        uow: UnitOfWork,
        asker: Asker,
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
            if asker.requester is None:
                raise UnknownRequester(asker.email)
            require(asker.requester.roles, permission, asker.requester.user.display_name)
        except (NotAuthorized, UnknownRequester) as refusal:
            self.audit_refusal(
                uow, asker.email, action, refusal, correlation_id, target=target, change_set_id=change_set_id
            )
            raise
        return asker.requester

    def authorize_now(
        self,
        email: str,
        permission: Permission,
        action: str,
        correlation_id: str = "",
        *,
        target: str = "",
        change_set_id: str = "",
    ) -> Requester:
        """`identify` then `authorize`, for a service that has no unit of work open: one is opened
        only to audit a refusal."""
        asker = self.identify(email)
        if asker.requester is not None and asker.requester.roles & permission.roles:
            return asker.requester
        with self._uow() as uow:
            return self.authorize(
                uow, asker, permission, action, correlation_id, target=target, change_set_id=change_set_id
            )

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
        self.authorize_now(cmd.requester, Permission.READ, "show user", target=cmd.user)
        user = self._find_user(cmd.user)
        products = {p.sku_id: p for p in self._directory.products()}
        return UserOverview(user, products, self._group_names([user]))

    def show_group(self, cmd: ShowGroup) -> GroupOverview:
        """A group's products (services off), members, processing state and members in error."""
        self.authorize_now(cmd.requester, Permission.READ, "show group", target=f"{GROUP_PREFIX}{cmd.group}")
        group = self.find_group(cmd.group)
        products = {p.sku_id: p for p in self._directory.products()}
        members = self._directory.group_members(group.id)
        in_error = self._directory.members_with_license_errors(group.id)
        return GroupOverview(group, products, members, in_error)

    def group_processing(self, group_id: str) -> GroupOverview:
        """Where Microsoft 365 is with a group's license change (R21): the group with its
        processing state and the members in error (one read of each, no members list). Called
        after a confirmed group change, to follow it; no transaction is open."""
        found = self._directory.groups_by_id([group_id]).get(group_id)
        if found is None:
            raise UnknownGroup(group_id)
        # Read once processing is over (Graph does not return `hasMembersWithLicenseErrors`).
        complete = found.processing is ProcessingState.COMPLETE
        in_error = self._directory.members_with_license_errors(group_id) if complete else []
        products = {p.sku_id: p for p in self._directory.products()} if in_error else {}
        return GroupOverview(found, products, [], in_error)

    def find_group(self, key: str) -> Group:
        """One group by display name, mail nickname or object id (R21); several answering to the
        name is `AmbiguousGroup`, for the admin to pick one."""
        found = self._directory.find_groups(key)
        exact = [g for g in found if g.id.casefold() == key.strip().casefold()]
        if exact:
            return exact[0]
        if not found:
            raise UnknownGroup(key)
        if len(found) > 1:
            raise AmbiguousGroup(key, found)
        return found[0]

    def plan_group_change(self, cmd: ChangeGroupLicense) -> ChangeSet:
        """A change to a group's own license, previewed with what it does to the members (R21).

        Always previewed, whatever the kind: it reaches every member. Members predicted to end in
        an error state are warnings in the preview, not refusals. The tenant is read first, with no
        transaction open; the plan is kept in one short one."""
        target = f"{GROUP_PREFIX}{cmd.group}"
        requester = self.authorize_now(
            cmd.requester,
            Permission.MANAGE_LICENSES,
            f"{cmd.kind} a group's licenses",
            cmd.correlation_id,
            target=target,
        )
        group = self.find_group(cmd.group)
        products = self._directory.products()
        product = self._catalog.resolve(cmd.product, products)
        by_sku = {p.sku_id: p for p in products}
        turn_off = resolve_plans(product, cmd.turn_off)
        members = self._directory.group_members(group.id)
        change, preview = plan_group_change(
            cmd.kind,
            group,
            product,
            members,
            by_sku,
            organization=self._directory.organization(),
            turn_off=turn_off,
        )
        now = self._clock.now()
        items = [ChangeItem(change)]
        change_set = ChangeSet(
            id=uuid.uuid4().hex,
            kind=cmd.kind,
            requested_by=requester.name,
            product_sku=product.sku_id,
            product_label=product.display_name,
            items=items,
            created_at=now,
            expires_at=now + self._preview_ttl,
            channel=cmd.channel,
            seats_before=product.seats.consumed,
            seats_total=product.seats.enabled,
            products=snapshot_products(products, _touched_skus(items, product.sku_id)),
            turn_off=tuple(sorted(turn_off)),
            group_id=group.id,
            details=preview.to_json(),
        )
        with self._uow() as uow:
            self._keep(uow, change_set, product.part_number, cmd.correlation_id)
            uow.commit()
        return change_set

    def list_subscriptions(self, cmd: ListSubscriptions) -> SubscriptionOverview:
        self.authorize_now(cmd.requester, Permission.READ, "list subscriptions")
        return SubscriptionOverview(
            self._directory.products(), self._directory.subscriptions(), self._directory.licensed_groups()
        )

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
        requester = self.authorize_now(
            cmd.requester,
            Permission.MANAGE_LICENSES,
            f"{cmd.kind} licenses",
            cmd.correlation_id,
            target=audit_target(cmd.users),
        )
        change_set, part_number = self._plan(cmd, requester)
        with self._uow() as uow:
            self._keep(uow, change_set, part_number, cmd.correlation_id)
            uow.commit()
        return change_set

    def _keep(self, uow: UnitOfWork, change_set: ChangeSet, part_number: str, correlation_id: str) -> None:
        uow.change_sets.add(change_set)
        self._audit_request(uow, change_set, part_number, correlation_id)

    def _plan(
        self, cmd: ChangeLicenses, requester: Requester, follow_up: _Slot | None = None
    ) -> tuple[ChangeSet, str]:
        """The change set planned from the tenant as it is now (read here: no unit of work may be
        open), and the product's part number for the audit."""
        products = self._directory.products()
        product = self._catalog.resolve(cmd.product, products)
        by_sku = {p.sku_id: p for p in products}
        turn_off = resolve_plans(product, cmd.turn_off)
        turn_on = resolve_plans(product, cmd.turn_on)
        users = self._find_users(cmd.users)
        items: list[ChangeItem] = []
        refused: list[tuple[str, str]] = []
        unchanged: list[tuple[str, str]] = []
        first_refusal: DomainError | None = None
        org = self._directory.organization()
        groups = self._group_names(users)
        notes: list[tuple[str, str]] = []
        sources: dict[str, dict[str, list[str]]] = {}
        for user in users:
            try:
                change = plan_user_change(
                    cmd.kind, user, product, by_sku, org, turn_off=turn_off, turn_on=turn_on, groups=groups
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
            notes.extend(
                (user.display_name, note) for note in kept_through_groups(user, change.remove, by_sku, groups)
            )
            # R21: seats are per user and product, whatever the sources: a direct assignment that
            # goes while a group still gives the product frees no seat, and one added to what a
            # group gives already takes none.
            inherited = {lic.sku_id for lic in user.inherited_licenses()}
            kept = [sku for sku in change.remove if sku in inherited]
            held = [sku for sku in change.gained if sku in inherited]
            if kept:
                sources.setdefault("kept", {})[user.id] = kept
            if held:
                sources.setdefault("held", {})[user.id] = held
        if not items:
            if len(users) == 1 and first_refusal is not None:
                raise first_refusal
            reasons = " ".join(_reason_line(name, why) for name, why in [*refused, *unchanged][:5])
            raise NothingToChange(f"Nothing to change for these users. {reasons}")
        held_already = sum(1 for skus in sources.get("held", {}).values() if product.sku_id in skus)
        check_seats(product, seats_needed((i.change for i in items), product.sku_id) - held_already)
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
            notes=notes,
            details=dict(sources),
        )
        if not cmd.kind.removes_access:
            change_set.confirm(requester.name, now)
        return change_set, product.part_number

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
        requester = self.authorize_now(
            cmd.requester,
            Permission.MANAGE_LICENSES,
            "retry a license change",
            cmd.correlation_id,
            change_set_id=cmd.change_set_id,
        )
        with self._uow() as uow:
            original = self._load(uow, cmd.change_set_id)
            slot = self._retry_slot(uow, original)
        failed = original.failed_items
        if original.group_id:
            raise NothingToChange(
                "A change to a group's license is not retried from here.",
                "Run the group command again: it shows a fresh preview of the members.",
            )
        if original.kind is ChangeKind.RECLAIM:
            change_set = self._reclaim_retry(original, failed, requester, slot)
            part_number = original.product_label
        elif original.kind is ChangeKind.UNDO:
            retried = [ChangeItem(i.change) for i in failed]
            change_set = self._undo_set(
                original, retried, refused=[], unchanged=[], requester=requester, slot=slot
            )
            part_number = original.product_label
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
            change_set, part_number = self._plan(again, requester, slot)
        with self._uow() as uow:
            # Checked again under the original's row lock: two clicks take turns, one retry results.
            if self._retry_slot(uow, self._load(uow, original.id, for_update=True)) != slot:
                raise ChangeNotPending("retried (a retry of it was asked for already)")
            self._keep(uow, change_set, part_number, cmd.correlation_id)
            uow.commit()
        return change_set

    def _reclaim_retry(
        self, original: ChangeSet, failed: list[ChangeItem], requester: Requester, slot: _Slot
    ) -> ChangeSet:
        """The failed users of a reclaim (R22), planned again from what they hold now."""
        current = self._directory.users_by_id([item.change.user_id for item in failed])
        changes = reclaim_changes(user for user in current.values() if user is not None)
        if not changes:
            raise NothingToChange("Nothing to retry: those accounts hold no license any more.")
        now = self._clock.now()
        items = [ChangeItem(change) for change in changes]
        return ChangeSet(
            id=slot.change_set_id,
            kind=ChangeKind.RECLAIM,
            requested_by=requester.name,
            product_sku="",
            product_label=original.product_label,
            items=items,
            created_at=now,
            expires_at=now + self._preview_ttl,
            channel=original.channel,
            products=snapshot_products(self._directory.products(), _touched_skus(items, "")),
            request_key=slot.key,
        )

    def _retry_slot(self, uow: UnitOfWork, original: ChangeSet) -> _Slot:
        if original.state is not ChangeState.DONE:
            raise ChangeNotPending(original.state.value)
        if not original.failed_items:
            raise NothingToChange("Nothing failed in this change, so there is nothing to retry.")
        slot, live = self._follow_up(uow, original, "retry", self._clock.now())
        if live is not None:
            raise ChangeNotPending("retried (a retry of it was asked for already)")
        return slot

    def change_by_reference(self, cmd: ShowChange) -> ChangeSet:
        """A change set by the short reference its messages show (`/license status|undo REF`)."""
        self.authorize_now(cmd.requester, Permission.READ, "look up a license change", cmd.correlation_id)
        wanted = cmd.reference.strip().strip("`").casefold()
        with self._uow() as uow:
            ids = uow.change_sets.ids_starting_with(wanted, limit=2)
            if len(ids) > 1:
                raise AmbiguousChange(cmd.reference)
            change_set = uow.change_sets.get(ids[0]) if ids else None
        if change_set is None:
            raise UnknownChange(cmd.reference)
        return change_set

    def request_undo(self, cmd: UndoChange) -> ChangeSet:
        """Preview putting everyone a finished change wrote to back to what they held before.

        Users changed since are refused with the reason; the undo itself is confirmed like any
        change that removes access, written like any change, and audited (R20).
        """
        requester = self.authorize_now(
            cmd.requester,
            Permission.MANAGE_LICENSES,
            "undo a license change",
            cmd.correlation_id,
            change_set_id=cmd.change_set_id,
        )
        with self._uow() as uow:
            original = self._load(uow, cmd.change_set_id)
            slot = self._undo_slot(uow, original)
        # The users as they are now, read in batches of 20 with no transaction open (R17).
        wrote = [i.change.user_id for i in original.items if i.status is ItemStatus.APPLIED]
        items, refused, unchanged = plan_undo(original, self._targets_now(original, wrote))
        if not items:
            reasons = "; ".join(f"{name}: {why}" for name, why in refused[:5])
            raise UndoNotAvailable(f"Nothing to undo: every user changed since. {reasons}")
        change_set = self._undo_set(
            original, items, refused=refused, unchanged=unchanged, requester=requester, slot=slot
        )
        change_set.group_id = original.group_id
        with self._uow() as uow:
            # Checked again under the original's row lock: two clicks take turns, one undo results.
            if self._undo_slot(uow, self._load(uow, original.id, for_update=True)) != slot:
                raise ChangeNotPending("being undone (an undo of it was asked for already)")
            self._keep(uow, change_set, original.product_label, cmd.correlation_id)
            uow.commit()
        return change_set

    def _targets_now(self, original: ChangeSet, ids: Sequence[str]) -> dict[str, User | None]:
        """The users (or, for a group's own license, the group) a change wrote to, as they are now."""
        if not original.group_id:
            return self._directory.users_by_id(ids)
        groups = self._directory.groups_by_id(ids)
        return {gid: (group_as_target(group) if group is not None else None) for gid, group in groups.items()}

    def _undo_slot(self, uow: UnitOfWork, original: ChangeSet) -> _Slot:
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
        return slot

    def _undo_set(
        self,
        original: ChangeSet,
        items: list[ChangeItem],
        *,
        refused: list[tuple[str, str]],
        unchanged: list[tuple[str, str]],
        requester: Requester,
        slot: _Slot,
    ) -> ChangeSet:
        products = self._directory.products()
        by_sku = {p.sku_id: p for p in products}
        changes = [i.change for i in items]
        for sku in sorted({sku for change in changes for sku in change.gained}):
            if sku in by_sku:
                check_seats(by_sku[sku], seats_needed(changes, sku))  # R2: seats given back may be gone
        now = self._clock.now()
        product = by_sku.get(original.product_sku)
        return ChangeSet(
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

    def _group_names(self, users: Iterable[User]) -> dict[str, str]:
        """The names of the groups these users get licenses from (R21), read in one go."""
        wanted = sorted({state.group_id for user in users for state in user.states if state.group_id})
        if not wanted:
            return {}
        found = self._directory.groups_by_id(wanted)
        return {group_id: group.display_name for group_id, group in found.items() if group is not None}

    def services_of(self, cmd: ShowServices) -> UserServices:
        """A user's license of a product with its services, to turn them on or off (R5)."""
        self.authorize_now(cmd.requester, Permission.READ, "show services", target=cmd.user)
        user = self._find_user(cmd.user)
        product = self._catalog.resolve(cmd.product, self._directory.products())
        held = user.license_for(product.sku_id)
        if held is None:
            raise NothingToChange(
                f"{user.display_name} has no {product.display_name} license, "
                "so it has no services to change.",
                "Assign it first (`/license assign`), then turn its services on or off.",
            )
        if user.only_inherited(product.sku_id):
            # R5 + R21: the services of a license from a group are set on the group.
            names = self._group_names([user])
            groups = [names[g] for g in dict.fromkeys(user.groups_of(product.sku_id)) if g in names]
            raise LicenseInherited(user.display_name, product.display_name, groups, services=True)
        return UserServices(user, product, held)

    def home(self, cmd: ShowHome) -> HomeOverview:
        """The requester's overview for App Home: seats, subscriptions and their recent changes."""
        requester = self.authorize_now(cmd.requester, Permission.READ, "show the overview")
        products, subscriptions = self._directory.products(), self._directory.subscriptions()
        groups = self._directory.licensed_groups()
        with self._uow() as uow:
            recent = uow.audit.recent(limit=RECENT_AUDIT_ENTRIES, actor=requester.name)
        return HomeOverview(requester, products, subscriptions, recent, groups)

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
        asker = self.identify(cmd.requester)
        with self._uow() as uow:
            # Locked until the commit: two clicks at once cannot both find it pending.
            change_set = self._load(uow, cmd.change_set_id, for_update=True)
            about = {"target": _target_of(change_set), "change_set_id": change_set.id}
            requester = self.authorize(
                uow, asker, Permission.MANAGE_LICENSES, action, cmd.correlation_id, **about
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
            self.hold(uow, change_set.id)
            uow.change_sets.save(change_set)
            uow.commit()
        if confirmed is not None:
            confirmed(change_set)
        return self.apply(change_set.id, cmd.correlation_id, progress)

    def cancel(self, cmd: CancelChange) -> ChangeSet:
        asker = self.identify(cmd.requester)
        with self._uow() as uow:
            change_set = self._load(uow, cmd.change_set_id, for_update=True)
            requester = self.authorize(
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
        """Write a confirmed change set in batches, exactly once (`domain.applier`)."""
        return self._applier.apply(change_set_id, correlation_id, progress)

    def resume_unfinished(self, *, force: bool = False) -> list[str]:
        """Finish the change sets a crash or a stopped process left applying (`domain.applier`)."""
        return self._applier.resume_unfinished(force=force)

    def take_over(self, change_set_id: str) -> None:
        self._applier.take_over(change_set_id)

    def _load(self, uow: UnitOfWork, change_set_id: str, *, for_update: bool = False) -> ChangeSet:
        change_set = uow.change_sets.get(change_set_id, for_update=for_update)
        if change_set is None:
            raise ChangeNotPending("gone (unknown change)")
        return change_set

    def _find_user(self, key: str) -> User:
        user = self._directory.user(key)
        if user is not None:
            return user
        if "@" in key:
            org = self._directory.organization()
            if not org.owns_address(key):  # R8: another organization's user, not a typo of ours
                raise OutsideOrganization(key, sorted(org.verified_domains))
        raise UnknownUser(key)

    def _find_users(self, keys: Sequence[str]) -> list[User]:
        seen: dict[str, User] = {}
        for key in keys:
            if key.casefold().startswith(HOLDERS_PREFIX):
                product = self._catalog.resolve(key[len(HOLDERS_PREFIX) :], self._directory.products())
                holders = self._directory.users_with_product(product.sku_id)
                if not holders:
                    raise NothingToChange(
                        f"Nobody holds {product.display_name}, so `{key}` selects no users.",
                        "Name the users instead, or check the product with `/subscription list`.",
                    )
                for holder in holders:
                    seen.setdefault(holder.id, holder)
                continue
            user = self._find_user(key)
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

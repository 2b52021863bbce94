"""In-memory fakes of the ports in `domain/ports.py`, and builders for test data (STYLE.md: fakes over mocks).

The directory behaves like Microsoft Graph: its writes happen at once and are not part of the unit of
work (a crash after a write does not undo it), and, like every remote adapter, it refuses to be called
while the thread has a unit of work open (`domain.transactions`). The unit of work holds the bot's own
state (change sets, audit, idempotency keys) with real commit/rollback semantics: each unit of work
works on a copy of the committed state, `commit()` publishes it, and anything not committed is
discarded.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Generic, Self, TypeVar

from domain import transactions
from domain.audit import AuditEntry
from domain.catalog import KnownProduct
from domain.changes import ChangeItem, ChangeOutcome, ChangeSet, ChangeState, OutcomeKind, UserChange
from domain.errors import (
    ChangeConflict,
    DomainError,
    LicenseInherited,
    SignInActivityUnavailable,
    UnknownProduct,
    UnknownServicePlan,
    UnknownUser,
)
from domain.group_follow import GroupFollow
from domain.model import (
    AdminRole,
    Cloud,
    Group,
    LicenseAssignment,
    Organization,
    PaymentMethod,
    Product,
    Seats,
    ServicePlan,
    Subscription,
    SubscriptionStatus,
    User,
)
from domain.ports import (
    AdminTaskRepository,
    ApprovalRepository,
    AuditLog,
    ChangeSetRepository,
    GroupFollowRepository,
    IdempotencyKeys,
    Lease,
    Leases,
    UserQuery,
    WorkflowRepository,
)
from domain.rules import check_assignable, check_seats, check_usage_location, find_conflict
from domain.transactions import forbid_remote_call
from domain.workflows import (
    AdminTask,
    Approval,
    ApprovalState,
    ProductRef,
    Receipt,
    Reminder,
    StepStatus,
    TaskState,
    WaitFor,
    Workflow,
    WorkflowState,
    WorkflowStatus,
)
from domain.workflows.tasks import buy_task, cancel_task, seats_task

__all__ = [
    "SKU_E1",
    "SKU_E3",
    "SKU_E5",
    "SKU_F3",
    "SKU_FILE_STORAGE",
    "SKU_M365_E5",
    "ApplyCall",
    "DirectoryWrite",
    "FixedClock",
    "InMemoryApprovals",
    "InMemoryAudit",
    "InMemoryChangeSets",
    "InMemoryCommerce",
    "InMemoryDirectory",
    "InMemoryKeys",
    "InMemoryTasks",
    "InMemoryUnitOfWork",
    "InMemoryUnitOfWorkFactory",
    "InMemoryWorkflows",
    "RecordingNotifier",
    "SimulatedCrash",
    "license_of",
    "make_organization",
    "make_product",
    "make_subscription",
    "make_user",
    "plan_id",
    "service_plan",
]

# --------------------------------------------------------------------------------------------------
# Clock


class FakeTime:
    """Monotonic time that moves only when something sleeps (a Graph client, its write pacer, the
    simulator's quota); every wait is recorded, none is slept."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(seconds, 0.0)


class FixedClock:
    """A clock that only moves when told to (timezone-aware UTC)."""

    def __init__(self, at: datetime = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)) -> None:
        self._now = _utc(at)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = _utc(at)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("FixedClock needs a timezone-aware datetime")
    return at.astimezone(UTC)


# --------------------------------------------------------------------------------------------------
# Builders: real part numbers, sku ids and service plan ids from Microsoft's licensing table.

SKU_E1 = "18181a46-0d4e-45cd-891e-60aabd171b4e"
SKU_E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SKU_E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
SKU_F3 = "4b585984-651b-448a-9e53-3b10f069cf7f"
SKU_M365_E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
SKU_FILE_STORAGE = "99049c9c-6011-4908-bf17-15f496e6519d"

_PLANS: Mapping[str, tuple[str, str]] = {
    "EXCHANGE_S_STANDARD": ("9aaf7827-d63c-4b61-89c3-182f06f82e5c", "Exchange Online (Plan 1)"),
    "EXCHANGE_S_ENTERPRISE": ("efb87545-963c-4e0d-99df-69c6916d9eb0", "Exchange Online (Plan 2)"),
    "EXCHANGE_S_DESKLESS": ("4a82b400-a79f-41a4-b4e2-e94f5787b113", "Exchange Online Kiosk"),
    "EXCHANGE_ANALYTICS": ("34c0d7a0-a70f-4668-9238-47f9fc208882", "Microsoft MyAnalytics (Full)"),
    "SHAREPOINTSTANDARD": ("c7699d2e-19aa-44de-8edf-1736da088ca1", "SharePoint (Plan 1)"),
    "SHAREPOINTENTERPRISE": ("5dbe027f-2339-4123-9542-606e4d348a72", "SharePoint (Plan 2)"),
    "SHAREPOINTDESKLESS": ("902b47e5-dcb2-4fdc-858b-c63a90a2bdb9", "SharePoint Kiosk"),
    "MCOSTANDARD": ("0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "Skype for Business Online (Plan 2)"),
    "MCOIMP": ("afc06cb0-b4f4-4473-8286-d644f70d8faf", "Skype for Business Online (Plan 1)"),
    "MCOMEETADV": ("3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40", "Microsoft 365 Audio Conferencing"),
    "TEAMS1": ("57ff2da0-773e-42df-b2af-ffb7a2317929", "Microsoft Teams"),
    "MESH_AVATARS_FOR_TEAMS": ("dcf9d2f4-772e-4434-b757-77a453cfbc02", "Avatars for Teams"),
    "SWAY": ("a23b959c-7ce8-4e57-9140-b90eb88a9e97", "Sway"),
    "YAMMER_ENTERPRISE": ("7547a3fe-08ee-4ccb-b430-5077c5041653", "Yammer Enterprise"),
    "OFFICESUBSCRIPTION": ("43de0ff5-c92c-492b-9116-175376d08c38", "Microsoft 365 Apps for enterprise"),
    "SHAREPOINTSTORAGE": ("be5a7ed5-c598-4fcd-a061-5e6724c68a58", "Office 365 Extra File Storage"),
}

_PRODUCTS: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "STANDARDPACK": (
        SKU_E1,
        "Office 365 E1",
        ("EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD", "MCOSTANDARD", "TEAMS1", "SWAY"),
    ),
    "ENTERPRISEPACK": (
        SKU_E3,
        "Office 365 E3",
        (
            "EXCHANGE_S_ENTERPRISE",
            "SHAREPOINTENTERPRISE",
            "MCOSTANDARD",
            "TEAMS1",
            "MESH_AVATARS_FOR_TEAMS",
            "SWAY",
            "OFFICESUBSCRIPTION",
        ),
    ),
    "ENTERPRISEPREMIUM": (
        SKU_E5,
        "Office 365 E5",
        (
            "EXCHANGE_S_ENTERPRISE",
            "EXCHANGE_ANALYTICS",
            "SHAREPOINTENTERPRISE",
            "MCOSTANDARD",
            "MCOMEETADV",
            "TEAMS1",
            "SWAY",
            "OFFICESUBSCRIPTION",
        ),
    ),
    "SPE_E5": (
        SKU_M365_E5,
        "Microsoft 365 E5",
        (
            "EXCHANGE_S_ENTERPRISE",
            "SHAREPOINTENTERPRISE",
            "MCOSTANDARD",
            "MCOMEETADV",
            "TEAMS1",
            "MESH_AVATARS_FOR_TEAMS",
            "SWAY",
            "OFFICESUBSCRIPTION",
        ),
    ),
    "DESKLESSPACK": (
        SKU_F3,
        "Office 365 F3",
        ("EXCHANGE_S_DESKLESS", "SHAREPOINTDESKLESS", "MCOIMP", "TEAMS1", "SWAY"),
    ),
    "SHAREPOINTSTORAGE": (SKU_FILE_STORAGE, "Office 365 Extra File Storage", ("SHAREPOINTSTORAGE",)),
}

_COMPANY_PRODUCTS = frozenset({"SHAREPOINTSTORAGE"})


def service_plan(name: str, *, applies_to: str = "User") -> ServicePlan:
    """A real service plan by its name (`MCOSTANDARD`, `SWAY`, ...)."""
    plan_id, display = _PLANS[name]
    return ServicePlan(plan_id, name, display, applies_to)


def plan_id(name: str) -> str:
    """The id of a real service plan by its name."""
    return _PLANS[name][0]


def make_product(
    part_number: str,
    *,
    seats: int = 25,
    consumed: int = 0,
    plans: Sequence[str] | None = None,
    applies_to: str | None = None,
    sku_id: str | None = None,
    display_name: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Product:
    """A product by part number: the real ones above, or any other with `sku_id` and `display_name`.

    In `InMemoryDirectory`, `seats` is the number of enabled units and consumed units are counted
    from the users who hold the product; `consumed` only matters for a product used on its own.
    """
    known_sku, known_name, known_plans = _PRODUCTS.get(part_number, ("", "", ()))
    sku = sku_id or known_sku
    if not sku:
        raise ValueError(f"unknown part number {part_number}: pass sku_id and display_name")
    applies = applies_to or ("Company" if part_number in _COMPANY_PRODUCTS else "User")
    return Product(
        sku_id=sku,
        part_number=part_number,
        display_name=display_name or known_name or part_number,
        service_plans=tuple(service_plan(name) for name in (plans if plans is not None else known_plans)),
        seats=Seats(enabled=seats, consumed=consumed),
        applies_to=applies,
        aliases=aliases,
    )


def license_of(sku_id: str, *disabled_plans: str) -> LicenseAssignment:
    """A license with service plans turned off, given by plan name (`SWAY`) or plan id."""
    return LicenseAssignment(sku_id, frozenset(plan_id(p) if p in _PLANS else p for p in disabled_plans))


def make_user(
    name: str,
    *licenses: LicenseAssignment | str,
    domain: str = "contoso.com",
    usage_location: str | None = "US",
    user_id: str | None = None,
    display_name: str | None = None,
) -> User:
    """`make_user("alice", SKU_E3)`: alice@contoso.com, id `id-alice`, usage location US."""
    held = tuple(lic if isinstance(lic, LicenseAssignment) else LicenseAssignment(lic) for lic in licenses)
    user = User(
        id=user_id or f"id-{name}",
        user_principal_name=f"{name}@{domain}",
        display_name=display_name or name.replace(".", " ").title(),
        mail=f"{name}@{domain}",
        usage_location=usage_location,
    )
    return user.with_licenses(held)


def make_organization(
    *domains: str, cloud: Cloud = Cloud.WORLDWIDE, org_id: str = "org-contoso"
) -> Organization:
    verified = domains or ("contoso.com", "contoso.onmicrosoft.com")
    return Organization(
        id=org_id,
        display_name="Contoso",
        verified_domains=frozenset(verified),
        cloud=cloud,
        default_domain=verified[0],
    )


def make_subscription(
    product: Product,
    *,
    total: int | None = None,
    status: SubscriptionStatus = SubscriptionStatus.ENABLED,
    sub_id: str | None = None,
    organization_id: str = "org-contoso",
) -> Subscription:
    return Subscription(
        id=sub_id or f"sub-{product.part_number.lower()}",
        sku_id=product.sku_id,
        part_number=product.part_number,
        status=status,
        total_licenses=product.seats.enabled if total is None else total,
        organization_id=organization_id,
    )


# --------------------------------------------------------------------------------------------------
# Tenant directory


class SimulatedCrash(RuntimeError):
    """The process died: raised by `InMemoryDirectory` after a write, before its outcome is returned."""


@dataclass(frozen=True, slots=True)
class DirectoryWrite:
    """One `assignLicense` the directory performed."""

    user_id: str
    before: tuple[LicenseAssignment, ...]
    after: tuple[LicenseAssignment, ...]


@dataclass(frozen=True, slots=True)
class ApplyCall:
    user_ids: tuple[str, ...]
    verify: bool


class InMemoryDirectory:
    """`TenantDirectory` in memory, refusing with the same rules (domain.rules) as the real backends.

    Seats: each product's enabled units are fixed when it is added; consumed units are the number of
    users holding it, so every write moves the seat count. `writes` is the history of performed writes
    (`writes_for(user_id)` counts them), `calls` the history of `apply` calls.
    """

    def __init__(
        self,
        organization: Organization | None = None,
        *,
        products: Iterable[Product] = (),
        users: Iterable[User] = (),
        subscriptions: Iterable[Subscription] = (),
        roles: Mapping[str, Iterable[AdminRole]] | None = None,
    ) -> None:
        self._organization = organization or make_organization()
        self._products: dict[str, Product] = {}
        self._users: dict[str, User] = {}
        self._subscriptions: list[Subscription] = list(subscriptions)
        self._roles: dict[str, frozenset[AdminRole]] = {}
        self.writes: list[DirectoryWrite] = []
        self.calls: list[ApplyCall] = []
        self.page_size = 999
        self.sign_ins_readable = True
        self._groups: dict[str, Group] = {}
        self._members: dict[str, list[str]] = {}
        self.group_writes: list[tuple[str, tuple[LicenseAssignment, ...], tuple[str, ...]]] = []
        self._crash_after: int | None = None
        for product in products:
            self.add_product(product)
        for user in users:
            self.add_user(user)
        for key, user_roles in (roles or {}).items():
            self.set_roles(key, *user_roles)

    # -- set-up and out-of-band changes ------------------------------------------------------------

    def add_product(self, product: Product) -> Product:
        self._products[product.sku_id] = product
        return product

    def add_user(self, user: User) -> User:
        self._users[user.id] = user
        return user

    def set_roles(self, key: str, *roles: AdminRole) -> None:
        """Give a user (by id, principal name or mail) exactly these admin roles."""
        self._roles[self._require(key).id] = frozenset(roles)

    def set_licenses(self, key: str, *licenses: LicenseAssignment) -> User:
        """Someone changed the user outside the bot (in the admin center): not counted as a write."""
        user = self._require(key).with_licenses(licenses)
        self._users[user.id] = user
        return user

    def put_subscription(self, subscription: Subscription) -> Subscription:
        """Add a subscription, or replace the one with its id (a purchase, a status change)."""
        self._subscriptions = [s for s in self._subscriptions if s.id != subscription.id] + [subscription]
        return subscription

    def set_seats(self, sku_id: str, enabled: int) -> Product:
        """The product's enabled units, as its subscriptions now give them (R2)."""
        product = replace(
            self._products[sku_id], seats=replace(self._products[sku_id].seats, enabled=enabled)
        )
        self._products[sku_id] = product
        return product

    def crash_once_after(self, writes: int) -> None:
        """Raise `SimulatedCrash` from `apply` once, as soon as `writes` more writes are done.

        With 0, the next `apply` dies before writing anything; with n, it dies after the n-th write,
        before returning any outcome (the process was killed with the writes done but unrecorded).
        """
        self._crash_after = len(self.writes) + writes

    def writes_for(self, key: str) -> int:
        user_id = self._require(key).id
        return sum(1 for write in self.writes if write.user_id == user_id)

    def licenses_of(self, key: str) -> tuple[LicenseAssignment, ...]:
        return self._require(key).licenses

    # -- TenantDirectory ---------------------------------------------------------------------------

    def organization(self) -> Organization:
        forbid_remote_call("the in-memory directory (organization)")
        return self._organization

    def products(self) -> list[Product]:
        forbid_remote_call("the in-memory directory (products)")
        return [self._with_seats(product) for product in self._products.values()]

    def subscriptions(self) -> list[Subscription]:
        forbid_remote_call("the in-memory directory (subscriptions)")
        return list(self._subscriptions)

    def user(self, key: str) -> User | None:
        forbid_remote_call("the in-memory directory (user)")
        wanted = key.strip().casefold()
        for user in self._users.values():
            if wanted in {user.id.casefold(), user.user_principal_name.casefold()} or (
                user.mail is not None and user.mail.casefold() == wanted
            ):
                return user
        return None

    def users_by_id(self, user_ids: Sequence[str]) -> dict[str, User | None]:
        forbid_remote_call("the in-memory directory (users)")
        return {user_id: self._users.get(user_id) for user_id in user_ids}

    def user_pages(self, query: UserQuery) -> Iterator[list[User]]:
        """Pages of `page_size` users by id; each page checks for an open transaction on its own.
        `sign_ins_readable = False` stands for a tenant without Microsoft Entra ID P1 (R22)."""
        size = self.page_size
        chosen = [
            user
            for user in sorted(self._users.values(), key=lambda user: user.id)
            if (query.enabled is None or user.account_enabled is query.enabled)
            and (query.sku_id is None or user.holds(query.sku_id))
            and (not query.licensed or user.licenses)
        ]
        for start in range(0, len(chosen), size):
            forbid_remote_call("the in-memory directory (a page of users)")
            if query.sign_ins and not self.sign_ins_readable:
                raise SignInActivityUnavailable("the tenant has no Microsoft Entra ID P1 or P2 license")
            page = chosen[start : start + size]
            yield page if query.sign_ins else [replace(u, created=None, last_sign_in=None) for u in page]

    def users_with_product(self, sku_id: str) -> list[User]:
        forbid_remote_call("the in-memory directory (users with a product)")
        return [user for user in self._users.values() if user.holds(sku_id)]

    def admin_roles(self, user_id: str) -> frozenset[AdminRole]:
        forbid_remote_call("the in-memory directory (admin roles)")
        return self._roles.get(user_id, frozenset())

    def add_group(self, group: Group, *member_keys: str) -> Group:
        """A Microsoft Entra group with these members; their licenses are set on each user."""
        self._groups[group.id] = group
        self._members[group.id] = [self._require(key).id for key in member_keys]
        return group

    def find_groups(self, key: str) -> list[Group]:
        forbid_remote_call("the in-memory directory (groups)")
        wanted = key.strip().casefold()
        return [
            group
            for group in self._groups.values()
            if wanted in {group.id.casefold(), group.display_name.casefold(), group.mail_nickname.casefold()}
        ]

    def licensed_groups(self) -> list[Group]:
        forbid_remote_call("the in-memory directory (licensed groups)")
        return [
            replace(group, member_count=len(self._members.get(group.id, [])))
            for group in self._groups.values()
            if group.licenses
        ]

    def groups_by_id(self, group_ids: Sequence[str]) -> dict[str, Group | None]:
        forbid_remote_call("the in-memory directory (groups)")
        return {group_id: self._groups.get(group_id) for group_id in group_ids}

    def group_members(self, group_id: str) -> list[User]:
        forbid_remote_call("the in-memory directory (group members)")
        return [self._users[user_id] for user_id in self._members.get(group_id, [])]

    def members_with_license_errors(self, group_id: str) -> list[User]:
        forbid_remote_call("the in-memory directory (group members in error)")
        return [
            user
            for user in self.group_members(group_id)
            if any(state.group_id == group_id and state.in_error for state in user.states)
        ]

    def assign_group_license(
        self, group_id: str, add: Sequence[LicenseAssignment], remove: Sequence[str]
    ) -> Group:
        forbid_remote_call("the in-memory directory (a group's license write)")
        group = self._groups[group_id]
        kept = {lic.sku_id: lic for lic in group.licenses if lic.sku_id not in remove}
        kept.update({lic.sku_id: lic for lic in add})
        written = replace(group, licenses=tuple(sorted(kept.values(), key=lambda lic: lic.sku_id)))
        self._groups[group_id] = written
        self.group_writes.append((group_id, tuple(add), tuple(remove)))
        return written

    def apply(self, changes: Sequence[UserChange], *, verify: bool = False) -> list[ChangeOutcome]:
        """The contract of `TenantDirectory.apply`: every user's current state is checked first."""
        forbid_remote_call("the in-memory directory (license writes)")
        self.calls.append(ApplyCall(tuple(c.user_id for c in changes), verify))
        outcomes: list[ChangeOutcome] = []
        for change in changes:
            self._maybe_crash()
            outcomes.append(self._apply_one(change))
        self._maybe_crash()
        return outcomes

    # -- internals ---------------------------------------------------------------------------------

    def _maybe_crash(self) -> None:
        if self._crash_after is not None and len(self.writes) >= self._crash_after:
            self._crash_after = None
            raise SimulatedCrash(f"crashed after {len(self.writes)} writes")

    def _apply_one(self, change: UserChange) -> ChangeOutcome:
        user = self._users.get(change.user_id)
        if user is None:
            return ChangeOutcome.failed(change.user_id, UnknownUser(change.user_principal_name))
        state = change.state_of(user.direct_licenses)
        if state == "after":
            return ChangeOutcome(user.id, OutcomeKind.ALREADY_APPLIED, licenses=user.licenses)
        if state == "other":
            conflict = ChangeConflict(user.display_name)
            return ChangeOutcome(user.id, OutcomeKind.CONFLICT, conflict.message, licenses=user.licenses)
        try:
            self._check(user, change)
        except DomainError as refusal:
            return ChangeOutcome.failed(user.id, refusal)
        written = user.with_licenses(change.after)
        self._users[user.id] = written
        self.writes.append(DirectoryWrite(user.id, user.licenses, written.licenses))
        return ChangeOutcome(user.id, OutcomeKind.APPLIED, licenses=written.licenses)

    def _check(self, user: User, change: UserChange) -> None:
        """R2–R6 as Graph enforces them on `assignLicense`."""
        products = {product.sku_id: product for product in self.products()}
        for sku in change.remove:
            if user.only_inherited(sku):
                groups = [g.display_name for g in self.groups_by_id(user.groups_of(sku)).values() if g]
                raise LicenseInherited(user.display_name, products[sku].display_name, groups)
        for lic in change.add:
            product = products.get(lic.sku_id)
            if product is None:
                raise UnknownProduct(lic.sku_id, known=[p.part_number for p in products.values()])
            unknown = lic.disabled_plans - product.plan_ids
            if unknown:
                known = [plan.display_name for plan in product.service_plans]
                raise UnknownServicePlan(sorted(unknown)[0], product.display_name, known)
            if lic.sku_id in change.gained:
                check_assignable(product)
                check_usage_location(user)
                check_seats(product, 1)
        find_conflict(user, change.after, products)

    def _with_seats(self, product: Product) -> Product:
        holders = sum(1 for user in self._users.values() if user.holds(product.sku_id))
        return replace(product, seats=replace(product.seats, consumed=holders))

    def _require(self, key: str) -> User:
        user = self.user(key)
        if user is None:
            raise KeyError(key)
        return user


# --------------------------------------------------------------------------------------------------
# The bot's own state: change sets, audit, idempotency keys, unit of work


@dataclass(slots=True)
class _State:
    change_sets: dict[str, ChangeSet] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    keys: dict[str, datetime] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    approvals: dict[str, Approval] = field(default_factory=dict)
    tasks: dict[str, AdminTask] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)
    """Change set ids added or saved since the unit of work began (its rows to write on commit)."""
    written_rows: set[tuple[str, str]] = field(default_factory=set)
    """(table, id) of workflows, approvals and tasks added or saved since the unit of work began."""
    appended: int = 0
    """Audit entries recorded since the unit of work began (the last ones of `audit`)."""
    leases_written: set[str] = field(default_factory=set)
    """Lease names claimed or released since the unit of work began."""
    group_follows: dict[str, GroupFollow] = field(default_factory=dict)

    def copy(self) -> _State:
        # Shallow is enough: stored rows are private copies that nothing mutates in place
        # (the repositories copy on add, get and save).
        return _State(
            dict(self.change_sets),
            list(self.audit),
            dict(self.keys),
            dict(self.workflows),
            dict(self.approvals),
            dict(self.tasks),
            dict(self.leases),
            group_follows=dict(self.group_follows),
        )

    def merge(self, staged: _State) -> _State:
        """This committed state with a unit of work's own rows on top, like a database commit."""
        merged = self.copy()
        for change_set_id in staged.written:
            merged.change_sets[change_set_id] = staged.change_sets[change_set_id]
        for table, row_id in staged.written_rows:
            mine: dict[str, object] = getattr(staged, table)
            theirs: dict[str, object] = getattr(merged, table)
            theirs[row_id] = mine[row_id]
        merged.audit.extend(staged.audit[len(staged.audit) - staged.appended :])
        for key, at in staged.keys.items():
            merged.keys.setdefault(key, at)
        for name in staged.leases_written:
            if name in staged.leases:
                merged.leases[name] = staged.leases[name]
            else:
                merged.leases.pop(name, None)
        return merged


class InMemoryChangeSets:
    """`ChangeSetRepository`: `get` returns a copy, so only `add`/`save` change what is stored."""

    def __init__(self, state: _State, locks: list[str]) -> None:
        self._state = state
        self._locks = locks

    def add(self, change_set: ChangeSet) -> None:
        if change_set.id in self._state.change_sets:
            raise ValueError(f"change set {change_set.id} exists")
        self._state.change_sets[change_set.id] = copy.deepcopy(change_set)
        self._state.written.add(change_set.id)

    def get(self, change_set_id: str, *, for_update: bool = False) -> ChangeSet | None:
        stored = self._state.change_sets.get(change_set_id)
        if stored is None:
            return None
        if for_update:
            self._locks.append(change_set_id)
        return copy.deepcopy(stored)

    def save(self, change_set: ChangeSet) -> None:
        if change_set.id not in self._state.change_sets:
            raise KeyError(change_set.id)
        self._state.change_sets[change_set.id] = copy.deepcopy(change_set)
        self._state.written.add(change_set.id)

    def lock_state(self, change_set_id: str) -> ChangeState | None:
        stored = self._state.change_sets.get(change_set_id)
        if stored is None:
            return None
        self._locks.append(change_set_id)
        return stored.state

    def save_progress(self, change_set: ChangeSet, items: Sequence[ChangeItem]) -> None:
        stored = self._state.change_sets.get(change_set.id)
        if stored is None:
            raise KeyError(change_set.id)
        stored.state, stored.undoable_until = change_set.state, change_set.undoable_until
        by_user = {item.change.user_id: item for item in stored.items}
        for item in items:
            kept = by_user[item.change.user_id]
            kept.status, kept.reason, kept.rule = item.status, item.reason, item.rule
        self._state.written.add(change_set.id)

    def ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        return sorted(i for i in self._state.change_sets if i.startswith(prefix))[:limit]

    def recent(self, requested_by: str | None = None, limit: int = 10) -> list[ChangeSet]:
        found = [
            cs
            for cs in self._state.change_sets.values()
            if requested_by is None or cs.requested_by.casefold() == requested_by.casefold()
        ]
        found.sort(key=lambda cs: cs.created_at, reverse=True)
        return [copy.deepcopy(cs) for cs in found[:limit]]

    def ids_in_state(self, state: ChangeState) -> list[str]:
        return [cs.id for cs in self._state.change_sets.values() if cs.state is state]


class InMemoryAudit:
    """`AuditLog`: append-only; entries show in `recent` newest first."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def record(self, entry: AuditEntry) -> None:
        self._state.audit.append(entry)
        self._state.appended += 1

    def recent(self, limit: int = 20, actor: str | None = None) -> list[AuditEntry]:
        found = [e for e in reversed(self._state.audit) if actor is None or e.actor == actor]
        return found[:limit]


class InMemoryKeys:
    """`IdempotencyKeys`: a key is claimed once."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def claim(self, key: str, at: datetime) -> bool:
        if key in self._state.keys:
            return False
        self._state.keys[key] = at
        return True


class InMemoryLeases:
    """`Leases`: claimed and released in the unit of work, kept on commit."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def claim(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        held = self._state.leases.get(name)
        if held is not None and held.owner != owner and held.expires_at > now:
            return False
        self._state.leases[name] = Lease(name, owner, now + ttl)
        self._state.leases_written.add(name)
        return True

    def renew(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        held = self._state.leases.get(name)
        if held is None or held.owner != owner:
            return False
        self._state.leases[name] = Lease(name, owner, now + ttl)
        self._state.leases_written.add(name)
        return True

    def release(self, name: str, owner: str) -> None:
        held = self._state.leases.get(name)
        if held is not None and held.owner == owner:
            del self._state.leases[name]
            self._state.leases_written.add(name)

    def holder(self, name: str) -> Lease | None:
        return self._state.leases.get(name)

    def release_owned(self, owner_prefix: str) -> int:
        mine = [name for name, lease in self._state.leases.items() if lease.owner.startswith(owner_prefix)]
        for name in mine:
            del self._state.leases[name]
            self._state.leases_written.add(name)
        return len(mine)


_Row = TypeVar("_Row", Workflow, Approval, AdminTask, GroupFollow)


class _InMemoryRows(Generic[_Row]):
    """A table of the bot's workflow state: copies in and out, like rows."""

    table: str = ""

    def __init__(self, state: _State, locks: list[str]) -> None:
        self._state = state
        self._locks = locks

    @property
    def _rows(self) -> dict[str, _Row]:
        rows: dict[str, _Row] = getattr(self._state, self.table)
        return rows

    def add(self, row: _Row) -> None:
        if row.id in self._rows:
            raise ValueError(f"{self.table} {row.id} exists")
        self._put(row)

    def get(self, row_id: str, *, for_update: bool = False) -> _Row | None:
        stored = self._rows.get(row_id)
        if stored is None:
            return None
        if for_update:
            self._locks.append(row_id)
        return copy.deepcopy(stored)

    def save(self, row: _Row) -> None:
        if row.id not in self._rows:
            raise KeyError(row.id)
        self._put(row)

    def _put(self, row: _Row) -> None:
        self._rows[row.id] = copy.deepcopy(row)
        self._state.written_rows.add((self.table, row.id))

    def _all(self) -> list[_Row]:
        return [copy.deepcopy(row) for row in self._rows.values()]


class InMemoryWorkflows(_InMemoryRows[Workflow]):
    """`WorkflowRepository`."""

    table = "workflows"

    def in_state(self, *states: WorkflowState) -> list[Workflow]:
        found = [w for w in self._all() if w.state in states]
        return sorted(found, key=lambda w: (w.created_at, w.id))

    def waiting_for(self, waits: Collection[WaitFor]) -> list[Workflow]:
        found = [w for w in self._all() if w.state is WorkflowState.WAITING and w.waiting_for in waits]
        return sorted(found, key=lambda w: (w.created_at, w.id))

    def claim_ready(
        self, owner: str, now: datetime, ttl: timedelta, *, limit: int = 50, force: bool = False
    ) -> list[str]:
        claimed: list[str] = []
        for workflow in self.in_state(WorkflowState.RUNNING):
            step = workflow.current
            if step is None or step.status not in {StepStatus.PENDING, StepStatus.RUNNING}:
                continue
            free = (
                workflow.lease_expires_at is None
                or workflow.lease_expires_at <= now
                or workflow.lease_owner == owner
            )
            if not (free or force):
                continue
            if step.status is StepStatus.PENDING:
                workflow.lease_owner, workflow.lease_expires_at = owner, now + ttl
                self._put(workflow)
            claimed.append(workflow.id)
            if len(claimed) >= limit:
                break
        return claimed

    def release_owned(self, owner_prefix: str) -> int:
        mine = [w for w in self._all() if w.lease_owner and w.lease_owner.startswith(owner_prefix)]
        for workflow in mine:
            workflow.lease_owner, workflow.lease_expires_at = "", None
            self._put(workflow)
        return len(mine)

    def recent(self, limit: int = 10, requested_by: str | None = None) -> list[Workflow]:
        found = [
            w
            for w in self._all()
            if requested_by is None or w.requested_by.casefold() == requested_by.casefold()
        ]
        return sorted(found, key=lambda w: (w.created_at, w.id), reverse=True)[:limit]

    def purchases_taken(self, sku_id: str, *, excluding: str) -> set[str]:
        return {
            w.purchase_id
            for w in self._rows.values()
            if w.purchase_id and w.product.sku_id == sku_id and w.id != excluding
        }

    def take_purchase(self, workflow_id: str, subscription_id: str) -> bool:
        owner = next((w.id for w in self._rows.values() if w.purchase_id == subscription_id), None)
        if owner not in {None, workflow_id}:
            return False
        self._rows[workflow_id].purchase_id = subscription_id
        self._state.written_rows.add((self.table, workflow_id))
        return True


class InMemoryApprovals(_InMemoryRows[Approval]):
    """`ApprovalRepository`."""

    table = "approvals"

    def pending(self) -> list[Approval]:
        found = [a for a in self._all() if a.state is ApprovalState.PENDING]
        return sorted(found, key=lambda a: (a.requested_at, a.id))


class InMemoryTasks(_InMemoryRows[AdminTask]):
    """`AdminTaskRepository`: adding a task that exists is a no-op, as the port says."""

    table = "tasks"

    def add(self, row: AdminTask) -> None:
        if row.id not in self._rows:
            self._put(row)

    def open(self) -> list[AdminTask]:
        found = [t for t in self._all() if t.state is TaskState.OPEN]
        return sorted(found, key=lambda t: (t.created_at, t.id))


class InMemoryGroupFollows(_InMemoryRows[GroupFollow]):
    """`GroupFollowRepository`: adding a follow that exists is a no-op, as the port says."""

    table = "group_follows"

    def add(self, row: GroupFollow) -> None:
        if row.id not in self._rows:
            self._put(row)

    def following(self) -> list[GroupFollow]:
        found = [f for f in self._all() if f.following]
        return sorted(found, key=lambda f: (f.started_at, f.id))


class InMemoryUnitOfWork:
    """`UnitOfWork` over a copy of the committed state, taken when the unit of work begins.

    `commit()` writes the rows this unit of work added or saved (and its audit entries and keys)
    over the state committed meanwhile by others, then begins again from the result.
    """

    change_sets: ChangeSetRepository
    audit: AuditLog
    keys: IdempotencyKeys
    leases: Leases
    workflows: WorkflowRepository
    approvals: ApprovalRepository
    tasks: AdminTaskRepository
    group_follows: GroupFollowRepository

    def __init__(self, factory: InMemoryUnitOfWorkFactory) -> None:
        self._factory = factory
        self._begin()

    def _begin(self) -> None:
        self._state = self._factory.committed.copy()
        self.change_sets = InMemoryChangeSets(self._state, self._factory.locks)
        self.audit = InMemoryAudit(self._state)
        self.keys = InMemoryKeys(self._state)
        self.leases = InMemoryLeases(self._state)
        self.workflows = InMemoryWorkflows(self._state, self._factory.locks)
        self.approvals = InMemoryApprovals(self._state, self._factory.locks)
        self.tasks = InMemoryTasks(self._state, self._factory.locks)
        self.group_follows = InMemoryGroupFollows(self._state, self._factory.locks)

    def __enter__(self) -> Self:
        transactions.opened()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        transactions.closed()
        self.rollback()

    def commit(self) -> None:
        self._factory.committed = self._factory.committed.merge(self._state)
        self._factory.commits += 1
        self._begin()

    def rollback(self) -> None:
        self._begin()


class InMemoryUnitOfWorkFactory:
    """`UnitOfWorkFactory`: every unit of work shares `directory` and the committed state.

    For assertions: `audit_entries` and `change_set(id)` read what was committed, `commits` counts
    commits and `locks` lists the change set ids read `for_update`.
    """

    def __init__(self, directory: InMemoryDirectory | None = None) -> None:
        self.directory = directory or InMemoryDirectory()
        self.committed = _State()
        self.commits = 0
        self.locks: list[str] = []

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    @property
    def audit_entries(self) -> list[AuditEntry]:
        return list(self.committed.audit)

    def change_set(self, change_set_id: str) -> ChangeSet | None:
        stored = self.committed.change_sets.get(change_set_id)
        return copy.deepcopy(stored) if stored is not None else None

    def change_sets(self) -> list[ChangeSet]:
        return [copy.deepcopy(cs) for cs in self.committed.change_sets.values()]

    def workflow(self, workflow_id: str) -> Workflow | None:
        stored = self.committed.workflows.get(workflow_id)
        return copy.deepcopy(stored) if stored is not None else None

    def workflows(self) -> list[Workflow]:
        return [copy.deepcopy(w) for w in self.committed.workflows.values()]

    def approvals(self) -> list[Approval]:
        return [copy.deepcopy(a) for a in self.committed.approvals.values()]

    def tasks(self) -> list[AdminTask]:
        return [copy.deepcopy(t) for t in self.committed.tasks.values()]


# --------------------------------------------------------------------------------------------------
# Notifier


class RecordingNotifier:
    """`Notifier` that keeps what it was told, in order: (event, workflow id, the status or reminder).
    Like Slack behind the real one, it refuses to be called with a database transaction open."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, WorkflowStatus | Reminder | ChangeSet]] = []

    def workflow_changed(self, status: WorkflowStatus) -> None:
        forbid_remote_call("the notifier (workflow changed)")
        self.events.append(("workflow_changed", status.workflow.id, status))

    def approval_requested(self, status: WorkflowStatus) -> None:
        forbid_remote_call("the notifier (approval requested)")
        self.events.append(("approval_requested", status.workflow.id, status))

    def approval_closed(self, status: WorkflowStatus) -> None:
        forbid_remote_call("the notifier (approval closed)")
        self.events.append(("approval_closed", status.workflow.id, status))

    def reminder(self, reminder: Reminder) -> None:
        forbid_remote_call("the notifier (reminder)")
        workflow_id = reminder.status.workflow.id if reminder.status else ""
        self.events.append(("reminder", workflow_id, reminder))

    def change_resumed(self, change_set: ChangeSet) -> None:
        forbid_remote_call("the notifier (change resumed)")
        self.events.append(("change_resumed", change_set.id, change_set))

    def named(self, event: str) -> list[WorkflowStatus | Reminder | ChangeSet]:
        return [payload for name, _, payload in self.events if name == event]


# --------------------------------------------------------------------------------------------------
# Commerce


class InMemoryCommerce:
    """`Commerce` on an `InMemoryDirectory`: purchases are Pending until `activate` (or at once with
    `instant`), seats and cancellations happen at once; `calls` records (operation, reference).

    With `tasks=True` it behaves like a real tenant instead (R19): every call returns an admin task,
    and nothing changes in the directory until the test does it (as the admin would).
    """

    def __init__(
        self, directory: InMemoryDirectory, clock: FixedClock, *, instant: bool = False, tasks: bool = False
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._instant = instant
        self._tasks = tasks
        self.calls: list[tuple[str, str]] = []

    def buy(
        self, product: KnownProduct, seats: int, payment_method: PaymentMethod, *, reference: str
    ) -> Receipt | AdminTask:
        forbid_remote_call("the in-memory commerce")
        self.calls.append(("buy", reference))
        ref = ProductRef(product.sku_id, product.part_number, product.display_name)
        if self._tasks:
            return buy_task(
                f"task-{reference}", ref, seats, payment_method, cloud=Cloud.WORLDWIDE, now=self._clock.now()
            )
        sub_id = f"sub-{reference}"
        existing = next((s for s in self._directory.subscriptions() if s.id == sub_id), None)
        if existing is None:
            existing = self._directory.put_subscription(
                Subscription(
                    id=sub_id,
                    sku_id=product.sku_id,
                    part_number=product.part_number,
                    status=SubscriptionStatus.PENDING,
                    total_licenses=seats,
                    created=self._clock.now(),
                    payment_method=payment_method,
                    organization_id=self._directory.organization().id,
                )
            )
            if self._instant:
                existing = self.activate(sub_id)
        return Receipt(existing.id, existing.status, existing.total_licenses)

    def _ref(self, subscription: Subscription) -> ProductRef:
        product = next((p for p in self._directory.products() if p.sku_id == subscription.sku_id), None)
        name = product.display_name if product else subscription.part_number
        return ProductRef(subscription.sku_id, subscription.part_number, name)

    def activate(self, subscription_id: str) -> Subscription:
        """The purchase is done (its credit check passed): Enabled, and its seats join the pool."""
        sub = next(s for s in self._directory.subscriptions() if s.id == subscription_id)
        enabled = replace(sub, status=SubscriptionStatus.ENABLED)
        self._directory.put_subscription(enabled)
        products = {p.sku_id: p for p in self._directory.products()}
        if sub.sku_id in products:
            self._directory.set_seats(sub.sku_id, products[sub.sku_id].seats.enabled + sub.total_licenses)
        else:
            self._directory.add_product(make_product(sub.part_number, seats=sub.total_licenses))
        return enabled

    def change_seats(self, subscription: Subscription, total: int, *, reference: str) -> Receipt | AdminTask:
        forbid_remote_call("the in-memory commerce")
        self.calls.append(("change_seats", reference))
        ref = self._ref(subscription)
        if self._tasks:
            return seats_task(
                f"task-{reference}",
                ref,
                subscription.total_licenses,
                total,
                cloud=Cloud.WORLDWIDE,
                now=self._clock.now(),
            )
        current = next(s for s in self._directory.subscriptions() if s.id == subscription.id)
        product = next(p for p in self._directory.products() if p.sku_id == subscription.sku_id)
        self._directory.set_seats(product.sku_id, product.seats.enabled + total - current.total_licenses)
        changed = self._directory.put_subscription(replace(current, total_licenses=total))
        return Receipt(changed.id, changed.status, changed.total_licenses)

    def cancel(self, subscription: Subscription, *, reference: str) -> Receipt | AdminTask:
        forbid_remote_call("the in-memory commerce")
        self.calls.append(("cancel", reference))
        ref = self._ref(subscription)
        if self._tasks:
            return cancel_task(
                f"task-{reference}",
                ref,
                subscription.total_licenses,
                cloud=Cloud.WORLDWIDE,
                now=self._clock.now(),
            )
        current = next(s for s in self._directory.subscriptions() if s.id == subscription.id)
        if current.status is SubscriptionStatus.ENABLED:
            product = next(p for p in self._directory.products() if p.sku_id == subscription.sku_id)
            self._directory.set_seats(product.sku_id, product.seats.enabled - current.total_licenses)
            current = self._directory.put_subscription(replace(current, status=SubscriptionStatus.SUSPENDED))
        return Receipt(current.id, current.status, current.total_licenses)

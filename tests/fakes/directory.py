"""`InMemoryDirectory`: the tenant directory in memory, with the transaction rules of the real ones.

Like Microsoft Graph and the simulated tenant (`SimulatedTenant`), it is a remote system to the bot:
its writes happen at once and are not part of any unit of work (a crash after a write does not undo
it), it shares no state with the unit of work and holds none, and every call the services make
(`domain.ports.TenantDirectory`) first calls `domain.transactions.forbid_remote_call`, so it refuses
to be called while the thread has a unit of work open. What a test does to the tenant on its own
(`set_licenses`, `add_group`, `licenses_of`, ...) is the admin center's doing, not a call by the bot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from domain.changes import ChangeOutcome, OutcomeKind, UserChange
from domain.errors import (
    ChangeConflict,
    DomainError,
    LicenseInherited,
    SignInActivityUnavailable,
    UnknownProduct,
    UnknownServicePlan,
    UnknownUser,
)
from domain.model import AdminRole, Group, LicenseAssignment, Organization, Product, Subscription, User
from domain.ports import UserQuery
from domain.rules import check_assignable, check_seats, check_usage_location, find_conflict
from domain.transactions import forbid_remote_call
from tests.fakes.builders import make_organization

__all__ = ["ApplyCall", "DirectoryWrite", "InMemoryDirectory", "SimulatedCrash"]


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
        return self._products_with_seats()

    def subscriptions(self) -> list[Subscription]:
        forbid_remote_call("the in-memory directory (subscriptions)")
        return list(self._subscriptions)

    def user(self, key: str) -> User | None:
        forbid_remote_call("the in-memory directory (user)")
        return self._find(key)

    def users_by_id(self, user_ids: Sequence[str]) -> dict[str, User | None]:
        forbid_remote_call("the in-memory directory (users)")
        return {user_id: self._users.get(user_id) for user_id in user_ids}

    def user_pages(self, query: UserQuery) -> Iterator[list[User]]:
        """Pages of `page_size` users by id; each page checks for an open transaction on its own, the
        first one even when no user is chosen (Graph answers the first request with an empty page).
        `sign_ins_readable = False` stands for a tenant without Microsoft Entra ID P1 (R22)."""
        size = self.page_size
        chosen = [
            user
            for user in sorted(self._users.values(), key=lambda user: user.id)
            if (query.enabled is None or user.account_enabled is query.enabled)
            and (query.sku_id is None or user.holds(query.sku_id))
            and (not query.licensed or user.licenses)
        ]
        for start in range(0, max(len(chosen), 1), size):
            forbid_remote_call("the in-memory directory (a page of users)")
            if query.sign_ins and not self.sign_ins_readable:
                raise SignInActivityUnavailable("the tenant has no Microsoft Entra ID P1 or P2 license")
            page = chosen[start : start + size]
            if page:
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
        return self._members_of(group_id)

    def members_with_license_errors(self, group_id: str) -> list[User]:
        forbid_remote_call("the in-memory directory (group members in error)")
        return [
            user
            for user in self._members_of(group_id)
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
        products = {product.sku_id: product for product in self._products_with_seats()}
        for sku in change.remove:
            if user.only_inherited(sku):
                groups = [self._groups[g].display_name for g in user.groups_of(sku) if g in self._groups]
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

    def _products_with_seats(self) -> list[Product]:
        return [self._with_seats(product) for product in self._products.values()]

    def _with_seats(self, product: Product) -> Product:
        holders = sum(1 for user in self._users.values() if user.holds(product.sku_id))
        return replace(product, seats=replace(product.seats, consumed=holders))

    def _members_of(self, group_id: str) -> list[User]:
        return [self._users[user_id] for user_id in self._members.get(group_id, [])]

    def _find(self, key: str) -> User | None:
        wanted = key.strip().casefold()
        for user in self._users.values():
            if wanted in {user.id.casefold(), user.user_principal_name.casefold()} or (
                user.mail is not None and user.mail.casefold() == wanted
            ):
                return user
        return None

    def _require(self, key: str) -> User:
        user = self._find(key)
        if user is None:
            raise KeyError(key)
        return user

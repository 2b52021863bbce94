"""The simulated tenant over the `sim_` tables (DESIGN.md §6), inside a session it is given.

`SimulatedDirectory` is the tenant as one transaction sees it (graph-sim, the simulated commerce and
the seed use it inside their own sessions). The services are given `SimulatedTenant`, which opens a
short session of its own per call, as a remote system would: the tenant is never written inside the
bot's unit of work (DESIGN.md §5). It refuses what Microsoft 365 refuses, with the
domain's own errors (R2–R6), so a refusal reads the same whether it came from here or from Graph.
Every write is recorded in `sim_license_events`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session, sessionmaker

from domain.catalog import KnownProduct
from domain.changes import ChangeOutcome, OutcomeKind, UserChange
from domain.errors import (
    ChangeConflict,
    DirectoryUnavailable,
    DomainError,
    LicenseInherited,
    NothingToChange,
    SignInActivityUnavailable,
    UnknownProduct,
    UnknownServicePlan,
    UnknownUser,
)
from domain.model import (
    NO_ERROR,
    ROLE_TEMPLATE_IDS,
    AdminRole,
    CapabilityStatus,
    Cloud,
    Group,
    LicenseAssignment,
    Organization,
    PaymentMethod,
    Product,
    PurchaseChannel,
    Seats,
    ServicePlan,
    Subscription,
    SubscriptionStatus,
    User,
    licenses_by_sku,
    licenses_to_json,
)
from domain.ports import SIGN_INS_PAGE, USERS_PAGE, Clock, UserQuery
from domain.rules import check_assignable, check_seats, check_usage_location, find_conflict
from domain.transactions import forbid_remote_call
from storage.orm import (
    SimGroupLicenseStateRow,
    SimLicenseEventRow,
    SimOrganizationRow,
    SimProductRow,
    SimRoleAssignmentRow,
    SimServicePlanRow,
    SimSubscriptionRow,
    SimUserLicenseRow,
    SimUserRow,
)
from storage.simulated.groups import SimulatedGroups
from storage.simulated.products import COMPANY_PLANS, DEMO_PRODUCTS
from storage.simulated.users import find_user_row, user_from_row

__all__ = ["AccountActivity", "SimulatedDirectory", "SimulatedTenant", "find_user_row", "user_from_row"]

_CAPABILITY_ORDER = (
    SubscriptionStatus.ENABLED,
    SubscriptionStatus.WARNING,
    SubscriptionStatus.SUSPENDED,
    SubscriptionStatus.LOCKED_OUT,
    SubscriptionStatus.DELETED,
)
"""A product is as available as its best subscription: Enabled if any subscription is."""

_TERM = timedelta(days=365)
_TRIAL_TERM = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class AccountActivity:
    """When an account was created and last signed in, as Graph's `createdDateTime` and
    `signInActivity` tell it (R22)."""

    created: datetime | None
    last_sign_in: datetime | None
    last_non_interactive_sign_in: datetime | None


class SimulatedDirectory:
    """The tenant directory of the simulated Contoso tenant, read and written through `session`."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock
        self.groups = SimulatedGroups(session, clock, self._products, self._country)
        """The tenant's Microsoft Entra groups and their licenses (R21)."""

    # --- reads (the TenantDirectory port) -------------------------------------------------------

    def organization(self) -> Organization:
        row = self._session.scalars(select(SimOrganizationRow)).first()
        if row is None:
            raise DirectoryUnavailable("the simulated tenant is empty: reset the demo tenant first")
        default = next((d.name for d in row.verified_domains if d.is_default), "")
        return Organization(
            id=row.id,
            display_name=row.display_name,
            verified_domains=frozenset(d.name for d in row.verified_domains),
            country_code=row.country_code,
            cloud=Cloud(row.cloud),
            default_domain=default,
        )

    def _country(self) -> str:
        """Where members without a usage location are licensed (R21)."""
        return self._session.scalar(select(SimOrganizationRow.country_code)) or ""

    def products(self) -> list[Product]:
        """Products with at least one listed subscription; a purchase still Pending is not listed
        yet, so neither is a product that has nothing else (R9, R11)."""
        self.groups.settle()
        return list(self._products().values())

    def subscriptions(self) -> list[Subscription]:
        now = self._clock.now()
        org_id = self._session.scalar(select(SimOrganizationRow.id)) or ""
        names = select(SimProductRow.sku_id, SimProductRow.part_number)
        parts = {sku: part for sku, part in self._session.execute(names)}
        rows = self._session.scalars(select(SimSubscriptionRow)).all()
        subscriptions = [_subscription(row, parts[row.sku_id], now, org_id) for row in rows]
        return sorted(subscriptions, key=lambda s: (s.part_number, s.created or now, s.id))

    def user(self, key: str) -> User | None:
        self.groups.settle()
        row = find_user_row(self._session, key)
        return None if row is None else user_from_row(row)

    def users(self) -> list[User]:
        self.groups.settle()
        rows = self._session.scalars(select(SimUserRow).order_by(SimUserRow.user_principal_name))
        return [user_from_row(row) for row in rows]

    def users_by_id(self, user_ids: Sequence[str]) -> dict[str, User | None]:
        self.groups.settle()
        wanted = list(dict.fromkeys(user_ids))
        found: dict[str, User | None] = dict.fromkeys(wanted)
        for start in range(0, len(wanted), 500):
            rows = self._session.scalars(
                select(SimUserRow).where(SimUserRow.id.in_(wanted[start : start + 500]))
            )
            found.update((row.id, user_from_row(row)) for row in rows)
        return found

    def user_page(self, query: UserQuery, after: str = "", size: int = USERS_PAGE) -> list[User]:
        """One page of the users `query` selects, by object id after `after` (keyset paging: the
        same cost for the last page as for the first)."""
        if query.sign_ins:
            self.check_sign_in_activity()
        statement = select(SimUserRow).where(SimUserRow.id > after).order_by(SimUserRow.id).limit(size)
        if query.enabled is not None:
            statement = statement.where(SimUserRow.account_enabled == query.enabled)
        holding = _holdings().subquery()  # direct, or from a group without error (R21)
        if query.sku_id is not None:
            holds = select(holding.c.user_id).where(holding.c.sku_id == query.sku_id)
            statement = statement.where(SimUserRow.id.in_(holds))
        if query.licensed:
            statement = statement.where(SimUserRow.id.in_(select(holding.c.user_id)))
        return [user_from_row(row, sign_ins=query.sign_ins) for row in self._session.scalars(statement)]

    def user_pages(self, query: UserQuery) -> Iterator[list[User]]:
        size = SIGN_INS_PAGE if query.sign_ins else USERS_PAGE
        after = ""
        while page := self.user_page(query, after, size):
            yield page
            after = page[-1].id

    def check_sign_in_activity(self) -> None:
        """R22: sign-ins are readable only in a tenant with Microsoft Entra ID P1 (or P2)."""
        if not self.allows_sign_in_activity():
            raise SignInActivityUnavailable("the tenant has no Microsoft Entra ID P1 or P2 license")

    def allows_sign_in_activity(self) -> bool:
        return bool(self._session.scalar(select(SimOrganizationRow.sign_in_activity)))

    def set_sign_in_activity(self, allowed: bool) -> None:
        """The tenant gains or loses its Microsoft Entra ID P1 license (tests, demos)."""
        for row in self._session.scalars(select(SimOrganizationRow)):
            row.sign_in_activity = allowed
        self._session.flush()

    def account_activity(self, user_ids: Sequence[str]) -> dict[str, AccountActivity]:
        found: dict[str, AccountActivity] = {}
        wanted = list(dict.fromkeys(user_ids))
        for start in range(0, len(wanted), 500):
            rows = self._session.execute(
                select(
                    SimUserRow.id,
                    SimUserRow.created,
                    SimUserRow.last_sign_in,
                    SimUserRow.last_non_interactive_sign_in,
                ).where(SimUserRow.id.in_(wanted[start : start + 500]))
            )
            found.update((row[0], AccountActivity(row[1], row[2], row[3])) for row in rows)
        return found

    def users_with_product(self, sku_id: str) -> list[User]:
        """Everyone who has the product, directly or from a group (R21)."""
        self.groups.settle()
        holding = _holdings().subquery()
        holders = select(holding.c.user_id).where(holding.c.sku_id == sku_id)
        rows = self._session.scalars(
            select(SimUserRow).where(SimUserRow.id.in_(holders)).order_by(SimUserRow.user_principal_name)
        )
        return [user_from_row(row) for row in rows]

    # --- groups (R21) ----------------------------------------------------------------------------

    def find_groups(self, key: str) -> list[Group]:
        return self.groups.find(key)

    def list_groups(self) -> list[Group]:
        return self.groups.all()

    def licensed_groups(self) -> list[Group]:
        return self.groups.licensed()

    def groups_by_id(self, group_ids: Sequence[str]) -> dict[str, Group | None]:
        return self.groups.by_id(group_ids)

    def group_members(self, group_id: str) -> list[User]:
        return self.groups.members(group_id)

    def members_with_license_errors(self, group_id: str) -> list[User]:
        return self.groups.members_with_errors(group_id)

    def assign_group_license(
        self, group_id: str, add: Sequence[LicenseAssignment], remove: Sequence[str]
    ) -> Group:
        return self.groups.assign_license(group_id, add, remove)

    def admin_roles(self, user_id: str) -> frozenset[AdminRole]:
        templates = self._session.scalars(
            select(SimRoleAssignmentRow.role_template_id).where(SimRoleAssignmentRow.user_id == user_id)
        )
        return frozenset(ROLE_TEMPLATE_IDS[t] for t in templates if t in ROLE_TEMPLATE_IDS)

    # --- writes (the TenantDirectory port, and Graph's assignLicense) ----------------------------

    def apply(
        self,
        changes: Sequence[UserChange],
        *,
        verify: bool = False,  # noqa: ARG002 (this directory always reads the state first: it is free here)
        request_id: str | None = None,
    ) -> list[ChangeOutcome]:
        """Write each change once, per the port's contract: after → ALREADY_APPLIED, neither before
        nor after → CONFLICT, a rule refusal → FAILED; one event per user written.

        The users, then the products that gain a holder, are locked in a fixed order (PostgreSQL;
        SQLite serializes whole transactions), so concurrent batches neither double-write a user
        nor both take the last seat.
        """
        rows = self._lock_users([change.user_id for change in changes])
        self._lock_products({sku for change in changes for sku in change.gained})
        return [self._apply_one(change, rows.get(change.user_id), request_id) for change in changes]

    def assign_license(
        self,
        user_key: str,
        add: Sequence[LicenseAssignment],
        remove: Sequence[str],
        *,
        request_id: str | None = None,
    ) -> User:
        """Graph's `assignLicense`: add and remove in one write, checked by the rules (R2–R6).

        Raises the domain error of the first rule that refuses; nothing is written then.
        """
        found = find_user_row(self._session, user_key)
        if found is None:
            raise UnknownUser(user_key)
        row = self._lock_users([found.id])[found.id]
        self._lock_products({lic.sku_id for lic in add})
        return self._write(row, add, remove, request_id)

    # --- commerce (for the purchase and plan-switch workflows) -----------------------------------

    def add_subscription(
        self,
        product: str | KnownProduct,
        seats: int,
        *,
        payment_method: PaymentMethod = PaymentMethod.CARD,
        channel: PurchaseChannel = PurchaseChannel.DIRECT,
        activates_at: datetime | None = None,
        is_trial: bool = False,
        subscription_id: str | None = None,
    ) -> Subscription:
        """Buy `seats` of a product (by sku id or part number, or a product from Microsoft's table).

        With `activates_at` in the future the subscription is Pending until then (the credit check
        of an invoice purchase, R10); otherwise it is Enabled at once.
        """
        if seats <= 0:
            raise ValueError(f"a subscription needs at least one license, not {seats}")
        row = self._product_row_for_purchase(product)
        now = self._clock.now()
        pending = activates_at is not None and activates_at > now
        subscription = SimSubscriptionRow(
            id=subscription_id or str(uuid.uuid4()),
            sku_id=row.sku_id,
            status=(SubscriptionStatus.PENDING if pending else SubscriptionStatus.ENABLED).value,
            total_licenses=seats,
            created=now,
            next_lifecycle=now + (_TRIAL_TERM if is_trial else _TERM),
            is_trial=is_trial,
            purchase_channel=channel.value,
            payment_method=payment_method.value,
            activates_at=activates_at if pending else None,
        )
        self._session.add(subscription)
        self._session.flush()
        return self._subscription(subscription)

    def set_seats(self, subscription_id: str, total_licenses: int) -> Subscription:
        """Add or remove seats; seats that users hold cannot be removed (R2, R12)."""
        if total_licenses < 0:
            raise ValueError(f"a subscription cannot have {total_licenses} licenses")
        row = self._subscription_row(subscription_id)
        product = self._products().get(row.sku_id)
        removed = row.total_licenses - total_licenses
        if (
            product is not None
            and removed > 0
            and _effective_status(row, self._clock.now()) is SubscriptionStatus.ENABLED
            and product.seats.consumed > product.seats.enabled - removed
        ):
            raise DomainError(
                f"{product.part_number} cannot go down to {product.seats.enabled - removed} licenses: "
                f"{product.seats.consumed} are assigned to users.",
                f"Remove licenses from users first (`/license remove`), then remove at most "
                f"{product.seats.available} seats.",
                rule="R12",
            )
        row.total_licenses = total_licenses
        self._session.flush()
        return self._subscription(row)

    def set_status(self, subscription_id: str, status: SubscriptionStatus) -> Subscription:
        """Set the status outright (R9); a scheduled activation no longer applies."""
        row = self._subscription_row(subscription_id)
        row.status = status.value
        row.activates_at = None
        self._session.flush()
        return self._subscription(row)

    # --- internals ------------------------------------------------------------------------------

    def _apply_one(self, change: UserChange, row: SimUserRow | None, request_id: str | None) -> ChangeOutcome:
        if row is None:
            return ChangeOutcome.failed(change.user_id, UnknownUser(change.user_principal_name))
        user = user_from_row(row)
        # A write to a user changes only what is assigned to them directly (R21).
        state = change.state_of(user.direct_licenses)
        if state == "after":
            return ChangeOutcome(change.user_id, OutcomeKind.ALREADY_APPLIED, licenses=user.licenses)
        if state == "other":
            conflict = ChangeConflict(user.display_name)
            return ChangeOutcome(
                change.user_id, OutcomeKind.CONFLICT, conflict.message, conflict.rule, user.licenses
            )
        try:
            written = self._write(row, change.add, change.remove, request_id)
        except DomainError as refusal:
            return ChangeOutcome.failed(change.user_id, refusal)
        return ChangeOutcome(change.user_id, OutcomeKind.APPLIED, licenses=written.licenses)

    def _write(
        self,
        row: SimUserRow,
        add: Sequence[LicenseAssignment],
        remove: Sequence[str],
        request_id: str | None,
    ) -> User:
        user = user_from_row(row)
        if not add and not remove:
            raise NothingToChange(f"No license to add to or remove from {user.display_name}.")
        current = licenses_by_sku(user.direct_licenses)
        adding = licenses_by_sku(add)
        products = self._products()
        for sku in remove:
            if sku not in current and user.only_inherited(sku):
                # R21: Graph refuses it ("User license is inherited from group membership ...").
                names = [g.display_name for g in self.groups.by_id(user.groups_of(sku)).values() if g]
                raise LicenseInherited(user.display_name, _label(products, sku), names)
            if sku not in current:
                raise NothingToChange(f"{user.display_name} has no {_label(products, sku)} license.")
            if sku in adding:
                raise DomainError(
                    f"{_label(products, sku)} cannot be added and removed in one change.",
                    "Add it or remove it.",
                )
        for lic in adding.values():
            product = products.get(lic.sku_id)
            if product is None:
                raise UnknownProduct(lic.sku_id, known=[p.part_number for p in products.values()])
            unknown = sorted(lic.disabled_plans - product.plan_ids)
            if unknown:
                known = [p.display_name for p in product.service_plans if not p.automatic]
                raise UnknownServicePlan(unknown[0], product.display_name, known)
        held = {lic.sku_id for lic in user.licenses}
        gained = [products[sku] for sku in adding if sku not in held]
        for product in gained:
            check_assignable(product)  # R3
            check_usage_location(user)  # R4
        after = {sku: lic for sku, lic in current.items() if sku not in remove} | adding
        inherited = {lic.sku_id: lic for lic in user.inherited_licenses() if lic.sku_id not in after}
        find_conflict(user, [*after.values(), *inherited.values()], products)  # R6
        for product in gained:
            check_seats(product, 1)  # R2
        self._store_licenses(row, after)
        self._session.add(
            SimLicenseEventRow(
                at=self._clock.now(),
                user_id=row.id,
                before=licenses_to_json(current.values()),
                after=licenses_to_json(after.values()),
                request_id=request_id or uuid.uuid4().hex,
            )
        )
        self._session.flush()
        return user_from_row(row)

    def _store_licenses(self, row: SimUserRow, after: dict[str, LicenseAssignment]) -> None:
        held = {lic.sku_id: lic for lic in row.licenses}
        for sku, lic_row in held.items():
            if sku not in after:
                row.licenses.remove(lic_row)
        for sku, lic in after.items():
            disabled = sorted(lic.disabled_plans)
            if sku in held:
                if held[sku].disabled_plans != disabled:
                    held[sku].disabled_plans = disabled
            else:
                row.licenses.append(SimUserLicenseRow(sku_id=sku, disabled_plans=disabled))

    def _lock_users(self, user_ids: Iterable[str]) -> dict[str, SimUserRow]:
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        # populate_existing: a row this session already holds is refreshed from the locked read.
        query = (
            select(SimUserRow)
            .where(SimUserRow.id.in_(wanted))
            .order_by(SimUserRow.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {row.id: row for row in self._session.scalars(query)}

    def _lock_products(self, sku_ids: Iterable[str]) -> None:
        wanted = sorted(set(sku_ids))
        if wanted:
            query = select(SimProductRow.sku_id).where(SimProductRow.sku_id.in_(wanted))
            self._session.execute(query.order_by(SimProductRow.sku_id).with_for_update()).all()

    def _products(self) -> dict[str, Product]:
        now = self._clock.now()
        # A seat per user and product, whether direct, from groups or both (R2, R21).
        holding = _holdings().subquery()
        counts = select(holding.c.sku_id, func.count()).group_by(holding.c.sku_id)
        consumed = {sku: holders for sku, holders in self._session.execute(counts)}
        pools: dict[str, list[tuple[SubscriptionStatus, int]]] = {}
        for sub in self._session.scalars(select(SimSubscriptionRow)):
            status = _effective_status(sub, now)
            if status is not SubscriptionStatus.PENDING:
                pools.setdefault(sub.sku_id, []).append((status, sub.total_licenses))
        products: dict[str, Product] = {}
        for row in self._session.scalars(select(SimProductRow).order_by(SimProductRow.part_number)):
            pool = pools.get(row.sku_id)
            if pool:
                products[row.sku_id] = _product(row, pool, consumed.get(row.sku_id, 0))
        return products

    def _product_row_for_purchase(self, product: str | KnownProduct) -> SimProductRow:
        key = product.part_number if isinstance(product, KnownProduct) else product.strip()
        row = self._session.scalars(
            select(SimProductRow).where(
                or_(
                    func.lower(SimProductRow.sku_id) == key.lower(),
                    func.lower(SimProductRow.part_number) == key.lower(),
                )
            )
        ).first()
        if row is not None:
            return row
        if isinstance(product, KnownProduct):
            plans = tuple(
                ServicePlan(p.id, p.name, p.display_name, "Company" if p.name in COMPANY_PLANS else "User")
                for p in product.service_plans
            )
            return self._add_product(product.sku_id, product.part_number, product.display_name, "User", plans)
        known = next(
            (d for d in DEMO_PRODUCTS.values() if key.lower() in {d.sku_id, d.part_number.lower()}),
            None,
        )
        if known is None:
            raise UnknownProduct(key, known=list(DEMO_PRODUCTS))
        return self._add_product(
            known.sku_id, known.part_number, known.display_name, known.applies_to, known.service_plans
        )

    def _add_product(
        self, sku_id: str, part: str, name: str, applies_to: str, plans: Sequence[ServicePlan]
    ) -> SimProductRow:
        row = SimProductRow(sku_id=sku_id, part_number=part, display_name=name, applies_to=applies_to)
        row.service_plans = [
            SimServicePlanRow(
                plan_id=plan.id,
                position=position,
                name=plan.name,
                display_name=plan.display_name,
                applies_to=plan.applies_to,
            )
            for position, plan in enumerate(plans)
        ]
        self._session.add(row)
        self._session.flush()
        return row

    def _subscription_row(self, subscription_id: str) -> SimSubscriptionRow:
        row = self._session.get(SimSubscriptionRow, subscription_id)
        if row is None:
            raise LookupError(f"the simulated tenant has no subscription {subscription_id!r}")
        return row

    def _subscription(self, row: SimSubscriptionRow) -> Subscription:
        part = self._session.scalar(
            select(SimProductRow.part_number).where(SimProductRow.sku_id == row.sku_id)
        )
        org_id = self._session.scalar(select(SimOrganizationRow.id)) or ""
        return _subscription(row, part or row.sku_id, self._clock.now(), org_id)


def _holdings() -> Any:
    """(user_id, sku_id) of every license held: direct, or from a group without error."""
    return union(
        select(SimUserLicenseRow.user_id, SimUserLicenseRow.sku_id),
        select(SimGroupLicenseStateRow.user_id, SimGroupLicenseStateRow.sku_id).where(
            SimGroupLicenseStateRow.error == NO_ERROR
        ),
    )


def _effective_status(row: SimSubscriptionRow, now: datetime) -> SubscriptionStatus:
    """A Pending purchase becomes Enabled on its own once its credit check is over (R10)."""
    status = SubscriptionStatus(row.status)
    if status is SubscriptionStatus.PENDING and row.activates_at is not None and row.activates_at <= now:
        return SubscriptionStatus.ENABLED
    return status


def _product(row: SimProductRow, pool: list[tuple[SubscriptionStatus, int]], consumed: int) -> Product:
    """R2: enabled seats come from Enabled subscriptions, warning seats from those in grace."""

    def total(status: SubscriptionStatus) -> int:
        return sum(licenses for s, licenses in pool if s is status)

    best = min((s for s, _ in pool), key=_CAPABILITY_ORDER.index)
    return Product(
        sku_id=row.sku_id,
        part_number=row.part_number,
        display_name=row.display_name,
        service_plans=tuple(
            ServicePlan(p.plan_id, p.name, p.display_name, p.applies_to) for p in row.service_plans
        ),
        seats=Seats(
            enabled=total(SubscriptionStatus.ENABLED),
            consumed=consumed,
            warning=total(SubscriptionStatus.WARNING),
            suspended=total(SubscriptionStatus.SUSPENDED),
        ),
        applies_to=row.applies_to,
        capability_status=CapabilityStatus(best.value),
    )


def _subscription(row: SimSubscriptionRow, part_number: str, now: datetime, org_id: str) -> Subscription:
    return Subscription(
        id=row.id,
        sku_id=row.sku_id,
        part_number=part_number,
        status=_effective_status(row, now),
        total_licenses=row.total_licenses,
        created=row.created,
        next_lifecycle=row.next_lifecycle,
        is_trial=row.is_trial,
        purchase_channel=PurchaseChannel(row.purchase_channel),
        payment_method=PaymentMethod(row.payment_method),
        organization_id=org_id,
    )


def _label(products: dict[str, Product], sku_id: str) -> str:
    product = products.get(sku_id)
    return product.display_name if product else sku_id


class SimulatedTenant:
    """`domain.ports.TenantDirectory` for the services: every call is a short transaction of its
    own on the simulated tenant, and none is made while the caller has a unit of work open."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    @contextmanager
    def _tenant(self, what: str) -> Iterator[SimulatedDirectory]:
        forbid_remote_call(f"the simulated tenant ({what})")
        with self._sessions() as session:
            yield SimulatedDirectory(session, self._clock)
            session.commit()

    def organization(self) -> Organization:
        with self._tenant("organization") as tenant:
            return tenant.organization()

    def products(self) -> list[Product]:
        with self._tenant("products") as tenant:
            return tenant.products()

    def subscriptions(self) -> list[Subscription]:
        with self._tenant("subscriptions") as tenant:
            return tenant.subscriptions()

    def user(self, key: str) -> User | None:
        with self._tenant("user") as tenant:
            return tenant.user(key)

    def users_by_id(self, user_ids: Sequence[str]) -> dict[str, User | None]:
        with self._tenant("users") as tenant:
            return tenant.users_by_id(user_ids)

    def user_pages(self, query: UserQuery) -> Iterator[list[User]]:
        """Each page in a short transaction of its own, as Graph serves each page on its own."""
        size = SIGN_INS_PAGE if query.sign_ins else USERS_PAGE
        after = ""
        while True:
            with self._tenant("a page of users") as tenant:
                page = tenant.user_page(query, after, size)
            if page:
                yield page
            if len(page) < size:
                return
            after = page[-1].id

    def users_with_product(self, sku_id: str) -> list[User]:
        with self._tenant("users with a product") as tenant:
            return tenant.users_with_product(sku_id)

    def admin_roles(self, user_id: str) -> frozenset[AdminRole]:
        with self._tenant("admin roles") as tenant:
            return tenant.admin_roles(user_id)

    def apply(self, changes: Sequence[UserChange], *, verify: bool = False) -> list[ChangeOutcome]:
        """The writes commit when the block ends; an error rolls them back (nothing half-written)."""
        with self._tenant("license writes") as tenant:
            return tenant.apply(changes, verify=verify)

    def find_groups(self, key: str) -> list[Group]:
        with self._tenant("groups") as tenant:
            return tenant.find_groups(key)

    def groups_by_id(self, group_ids: Sequence[str]) -> dict[str, Group | None]:
        with self._tenant("groups") as tenant:
            return tenant.groups_by_id(group_ids)

    def licensed_groups(self) -> list[Group]:
        with self._tenant("licensed groups") as tenant:
            return tenant.licensed_groups()

    def group_members(self, group_id: str) -> list[User]:
        with self._tenant("group members") as tenant:
            return tenant.group_members(group_id)

    def members_with_license_errors(self, group_id: str) -> list[User]:
        with self._tenant("group members in error") as tenant:
            return tenant.members_with_license_errors(group_id)

    def assign_group_license(
        self, group_id: str, add: Sequence[LicenseAssignment], remove: Sequence[str]
    ) -> Group:
        with self._tenant("a group's license write") as tenant:
            return tenant.assign_group_license(group_id, add, remove)

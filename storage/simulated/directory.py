"""The simulated tenant over the `sim_` tables (DESIGN.md §6), inside a session it is given.

`SimulatedDirectory` is the tenant as one transaction sees it (graph-sim, the simulated commerce and
the seed use it inside their own sessions). The services are given `SimulatedTenant`
(`tenant_port.py`), which opens a short session of its own per call, as a remote system would: the
tenant is never written inside the bot's unit of work (DESIGN.md §5). It refuses what Microsoft 365
refuses, with the domain's own errors (R2–R6), so a refusal reads the same whether it came from here
or from Graph. The groups are in `groups.py`, the license writes in `license_writes.py`, the products
and subscriptions in `inventory.py`. Every write is recorded in `sim_license_events`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.catalog import KnownProduct
from domain.changes import ChangeOutcome, UserChange
from domain.errors import (
    DirectoryUnavailable,
    DomainError,
    SignInActivityUnavailable,
)
from domain.model import (
    ROLE_TEMPLATE_IDS,
    AdminRole,
    Cloud,
    Group,
    LicenseAssignment,
    Organization,
    PaymentMethod,
    Product,
    PurchaseChannel,
    Subscription,
    SubscriptionStatus,
    User,
)
from domain.ports import SIGN_INS_PAGE, USERS_PAGE, Clock, UserQuery
from storage.orm import (
    SimOrganizationRow,
    SimProductRow,
    SimRoleAssignmentRow,
    SimSubscriptionRow,
    SimUserRow,
)
from storage.simulated.groups import SimulatedGroups
from storage.simulated.inventory import (
    effective_status,
    holdings,
    product_row_for_purchase,
    read_products,
    subscription_from_row,
)
from storage.simulated.license_writes import LicenseWrites
from storage.simulated.users import find_user_row, user_from_row

__all__ = ["AccountActivity", "SimulatedDirectory"]

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
        self._writes = LicenseWrites(session, clock, self._products, self.groups)

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
        subscriptions = [subscription_from_row(row, parts[row.sku_id], now, org_id) for row in rows]
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
        holding = holdings().subquery()  # direct, or from a group without error (R21)
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
        holding = holdings().subquery()
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
        """Write each change once, per the port's contract (see `LicenseWrites.apply`)."""
        return self._writes.apply(changes, request_id=request_id)

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
        return self._writes.assign_license(user_key, add, remove, request_id=request_id)

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
        row = product_row_for_purchase(self._session, product)
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
            and effective_status(row, self._clock.now()) is SubscriptionStatus.ENABLED
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

    def _products(self) -> dict[str, Product]:
        return read_products(self._session, self._clock.now())

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
        return subscription_from_row(row, part or row.sku_id, self._clock.now(), org_id)

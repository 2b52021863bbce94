"""Waste services (R22): reclaim the licenses of disabled or inactive accounts, and the per-user
license report.

A reclaim is planned here, from the tenant read with no transaction open, and kept as a change set
(`ChangeKind.RECLAIM`, one removal of every license per user): from then on it is confirmed,
written in batches, audited, retried and undone by `Licensing` and `ChangeHistory`, like any change.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from domain.application.authorization import Authorization
from domain.application.change_sets import keep_change_set
from domain.application.lookups import TenantLookups
from domain.application.planning import PREVIEW_TTL
from domain.catalog import ProductCatalog
from domain.changes import ChangeItem, ChangeKind, ChangeSet, snapshot_products
from domain.commands import LicenseReport, ReclaimLicenses
from domain.errors import NothingToChange, SignInActivityUnavailable
from domain.group_licensing import kept_through_groups
from domain.model import Permission, Product, User
from domain.ports import Clock, TenantDirectory, UnitOfWorkFactory, UserQuery
from domain.prices import Prices, monthly
from domain.waste import RECLAIM_DISABLED, RECLAIM_INACTIVE, inherited_reasons, is_inactive, reclaim_changes

__all__ = ["InactiveAccount", "ReclaimPlan", "ReportPages", "Waste"]


@dataclass(frozen=True, slots=True)
class ReclaimPlan:
    """A previewed reclaim: the change set to confirm, how many accounts of each kind it covers,
    and why inactive accounts were left out when sign-ins could not be read."""

    change_set: ChangeSet
    disabled: int
    inactive: int
    inactive_days: int | None = None
    sign_ins_unavailable: SignInActivityUnavailable | None = None
    freed_monthly: str = ""
    """What the freed seats cost a month (`PRICES_FILE`), e.g. "USD 31.00 a month"; "" unknown."""
    inactive_accounts: tuple[InactiveAccount, ...] = ()


@dataclass(frozen=True, slots=True)
class InactiveAccount:
    """Why an enabled account is in a reclaim: how long since it last signed in (None: never, and
    then how old the account is)."""

    name: str
    days_since_sign_in: int | None
    account_age_days: int | None


@dataclass(frozen=True, slots=True)
class ReportPages:
    """A license report: the tenant's products, and the users a page at a time (read as they are
    consumed: never while a unit of work is open)."""

    products: dict[str, Product]
    pages: Iterator[list[User]]
    scope: str
    """What the report covers, in words: "every licensed user", "holders of Office 365 E3"."""
    group_names: dict[str, str] = field(default_factory=dict)
    """The licensed groups by object id: where an inherited license comes from (R21)."""


class Waste:
    """R22 with the change sets of `Licensing` (R16 roles, R17 batches, R20 audit, Undo)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
        clock: Clock,
        catalog: ProductCatalog,
        *,
        preview_ttl: timedelta = PREVIEW_TTL,
        prices: Prices | None = None,
    ) -> None:
        self._uow = uow
        self._directory = directory
        self._clock = clock
        self._catalog = catalog
        self._preview_ttl = preview_ttl
        self._prices = prices or Prices()
        self._authorization = Authorization(uow, directory, clock)
        self._lookups = TenantLookups(directory, catalog)

    @property
    def catalog(self) -> ProductCatalog:
        return self._catalog

    def plan_reclaim(self, cmd: ReclaimLicenses) -> ReclaimPlan:
        """Preview taking back every license of disabled accounts (`accountEnabled eq false`) and,
        with `inactive_days`, of enabled accounts nobody signed in to for that long. Sign-ins need
        AuditLog.Read.All and Entra ID P1: without them the disabled accounts are still previewed,
        and the plan says why the inactive ones are not."""
        what = "reclaim licenses" + (f" (inactive {cmd.inactive_days} days)" if cmd.inactive_days else "")
        requester = self._authorization.authorize_now(
            cmd.requester, Permission.MANAGE_LICENSES, what, cmd.correlation_id, target="disabled accounts"
        )
        disabled = [
            user
            for page in self._directory.user_pages(UserQuery(enabled=False, licensed=True))
            for user in page
        ]
        inactive: list[User] = []
        unavailable: SignInActivityUnavailable | None = None
        now = self._clock.now()
        if cmd.inactive_days:
            try:
                for page in self._directory.user_pages(UserQuery(enabled=True, licensed=True, sign_ins=True)):
                    inactive += [user for user in page if is_inactive(user, now, cmd.inactive_days)]
            except SignInActivityUnavailable as refusal:
                unavailable = refusal
        disabled.sort(key=_by_name)
        inactive.sort(key=_by_name)
        changes = reclaim_changes([*disabled, *inactive])
        if not changes:
            nobody = "No disabled account holds a license" + (
                f", and nobody holding one has been inactive for {cmd.inactive_days} days"
                if cmd.inactive_days and unavailable is None
                else ""
            )
            fix = unavailable.message if unavailable is not None else "There is nothing to reclaim."
            raise NothingToChange(f"{nobody}.", fix)
        # R21: what groups give stays; a user with nothing of their own is left out, one who also
        # loses a direct assignment keeps the group's (no seat freed for it), each with the fix.
        holders = [*disabled, *inactive]
        products = self._directory.products()
        by_sku = {product.sku_id: product for product in products}
        group_ids = sorted({s.group_id for user in holders for s in user.states if s.group_id})
        found = self._directory.groups_by_id(group_ids) if group_ids else {}
        group_names = {group_id: group.display_name for group_id, group in found.items() if group}
        left_out = inherited_reasons(
            [user for user in holders if not user.direct_licenses],
            group_names,
            {sku: product.display_name for sku, product in by_sku.items()},
        )
        by_id = {user.id: user for user in holders}
        kept: dict[str, list[str]] = {}
        notes: list[tuple[str, str]] = []
        for change in changes:
            user = by_id[change.user_id]
            inherited = {lic.sku_id for lic in user.inherited_licenses()}
            if still := [sku for sku in change.remove if sku in inherited]:
                kept[user.id] = still
                notes += [
                    (user.display_name, note)
                    for note in kept_through_groups(user, change.remove, by_sku, group_names)
                ]
        items = [ChangeItem(change) for change in changes]
        label = RECLAIM_INACTIVE if cmd.inactive_days and unavailable is None else RECLAIM_DISABLED
        touched = {lic.sku_id for change in changes for lic in change.before}
        freed = Counter(
            sku
            for change in changes
            for sku in change.remove
            if sku not in kept.get(change.user_id, ())  # kept through a group: no seat freed
        )
        freed_monthly = monthly(
            self._prices.of_seats(p, freed[p.sku_id]) for p in products if p.sku_id in freed
        )
        change_set = ChangeSet(
            id=uuid.uuid4().hex,
            kind=ChangeKind.RECLAIM,
            requested_by=requester.name,
            product_sku="",
            product_label=label,
            items=items,
            created_at=now,
            expires_at=now + self._preview_ttl,
            channel=cmd.channel,
            products=snapshot_products(products, touched),
            refused=left_out,
            notes=notes,
            details={"kept": kept} if kept else {},
        )
        # Kept with its audited request: from then on it is confirmed, applied, retried and undone
        # like any other change.
        with self._uow() as uow:
            keep_change_set(uow, change_set, label.lower(), cmd.correlation_id)
            uow.commit()
        return ReclaimPlan(
            change_set,
            disabled=len(reclaim_changes(disabled)),
            inactive=len(changes) - len(reclaim_changes(disabled)),
            inactive_days=cmd.inactive_days,
            sign_ins_unavailable=unavailable,
            freed_monthly=freed_monthly,
            inactive_accounts=tuple(
                InactiveAccount(
                    user.display_name,
                    (now - user.last_sign_in).days if user.last_sign_in else None,
                    (now - user.created).days if user.created else None,
                )
                for user in inactive
                if user.licenses
            ),
        )

    def report(self, cmd: LicenseReport) -> ReportPages:
        """Every user the report covers with their licenses, a page at a time (any admin role may
        read it, R16). Nothing is read for the users until the pages are consumed."""
        scope_asked = f"has:{cmd.product}" if cmd.product else ("all" if cmd.include_unlicensed else "")
        if cmd.group:
            scope_asked = f"group:{cmd.group}"
        self._authorization.authorize_now(
            cmd.requester, Permission.READ, "license report", target=scope_asked
        )
        products = self._directory.products()
        groups = {g.id: g.display_name for g in self._directory.licensed_groups()}
        by_sku = {p.sku_id: p for p in products}
        if cmd.group:
            group = self._lookups.group(cmd.group)
            members = sorted(self._directory.group_members(group.id), key=_by_name)
            scope = f"members of the group {group.display_name}"
            return ReportPages(by_sku, iter([members] if members else []), scope, groups)
        if cmd.product:
            product = self.catalog.resolve(cmd.product, products)
            query, scope = UserQuery(sku_id=product.sku_id), f"holders of {product.display_name}"
        elif cmd.include_unlicensed:
            query, scope = UserQuery(), "every user, licensed or not"
        else:
            query, scope = UserQuery(licensed=True), "every licensed user"
        return ReportPages(by_sku, self._directory.user_pages(query), scope, groups)


def _by_name(user: User) -> tuple[str, str]:
    return user.display_name.casefold(), user.id

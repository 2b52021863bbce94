"""A Microsoft Entra group's own licenses (R21): show a group and plan a change to its licenses
(following Microsoft 365 while it processes the change is `domain.application.group_follows`).

A group change is always previewed (it reaches every member), then confirmed and written by
`Licensing` like any change, through the applier's group writer.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from domain.application.authorization import Authorization
from domain.application.change_sets import keep_change_set, touched_skus
from domain.application.lookups import TenantLookups
from domain.application.planning import PREVIEW_TTL
from domain.application.results import GroupOverview
from domain.catalog import ProductCatalog
from domain.changes import ChangeItem, ChangeSet, snapshot_products
from domain.commands import ChangeGroupLicense, ShowGroup
from domain.group_licensing import GROUP_PREFIX, plan_group_change
from domain.model import Permission
from domain.ports import Clock, TenantDirectory, UnitOfWorkFactory
from domain.rules import resolve_plans

__all__ = ["GroupChanges"]


class GroupChanges:
    """Show a group, plan a change to its own licenses, and read its processing (R21)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
        clock: Clock,
        catalog: ProductCatalog,
        *,
        preview_ttl: timedelta = PREVIEW_TTL,
    ) -> None:
        self._uow = uow
        self._directory = directory
        self._clock = clock
        self._catalog = catalog
        self._preview_ttl = preview_ttl
        self._authorization = Authorization(uow, directory, clock)
        self._lookups = TenantLookups(directory, catalog)

    def show_group(self, cmd: ShowGroup) -> GroupOverview:
        """A group's products (services off), members, processing state and members in error."""
        self._authorization.authorize_now(
            cmd.requester, Permission.READ, "show group", target=f"{GROUP_PREFIX}{cmd.group}"
        )
        group = self._lookups.group(cmd.group)
        products = {p.sku_id: p for p in self._directory.products()}
        members = self._directory.group_members(group.id)
        in_error = self._directory.members_with_license_errors(group.id)
        return GroupOverview(group, products, members, in_error)

    def plan_group_change(self, cmd: ChangeGroupLicense) -> ChangeSet:
        """A change to a group's own license, previewed with what it does to the members (R21).

        Always previewed, whatever the kind: it reaches every member. Members predicted to end in
        an error state are warnings in the preview, not refusals. The tenant is read first, with no
        transaction open; the plan is kept in one short one."""
        target = f"{GROUP_PREFIX}{cmd.group}"
        requester = self._authorization.authorize_now(
            cmd.requester,
            Permission.MANAGE_LICENSES,
            f"{cmd.kind} a group's licenses",
            cmd.correlation_id,
            target=target,
        )
        group = self._lookups.group(cmd.group)
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
            products=snapshot_products(products, touched_skus(items, product.sku_id)),
            turn_off=tuple(sorted(turn_off)),
            group_id=group.id,
            details=preview.to_json(),
        )
        with self._uow() as uow:
            keep_change_set(uow, change_set, product.part_number, cmd.correlation_id)
            uow.commit()
        return change_set

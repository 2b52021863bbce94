"""Starting subscription workflows: buy, seats, switch plans, upgrade from E4, cancel.

Each method has the shape of `Licensing`'s: authorize (R16; refusals audited, R20), read the tenant
with no transaction open, then `with uow:` build the workflow (`builders`), commit, tell the Slack
side through the `Notifier`, and run its first steps (`WorkflowEngine.run`), returning a
`WorkflowStatus` to render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from domain.application.authorization import audit_target
from domain.application.lookups import HOLDERS_PREFIX
from domain.application.subscriptions.builders import Tenant, WorkflowBuilder, cancel_in_flight
from domain.application.subscriptions.guard import SubscriptionGuard
from domain.application.workflow_engine import WorkflowEngine
from domain.audit import AuditResult
from domain.catalog import KnownProduct, short_name
from domain.commands import BuySubscription, CancelSubscription, ChangeSeats, SwitchPlans, UpgradeFromE4
from domain.errors import (
    AmbiguousProduct,
    DomainError,
    NothingToChange,
    SubscriptionNotActive,
    UnknownProduct,
    UnknownUser,
)
from domain.model import Organization, Product, Seats, ServicePlan, Subscription
from domain.ports import UnitOfWork
from domain.rules import check_in_organization
from domain.workflows import (
    E4_PART_NUMBER,
    EVERYONE,
    ProductRef,
    Workflow,
    WorkflowKind,
    WorkflowStatus,
)
from domain.workflows.checks import (
    SWITCH_PATHS,
    active_subscriptions,
    by_id_suffix,
    check_direct_purchase,
    check_on_sale,
    check_source_active,
    only_active,
    redundant_addons,
    seat_subscription,
)

__all__ = ["WorkflowStarts"]


class WorkflowStarts:
    """Starts the subscription workflows (R2, R8–R15, R19) on top of `Licensing` (R7, R16, R17)."""

    def __init__(self, engine: WorkflowEngine, guard: SubscriptionGuard) -> None:
        self._engine = engine
        self._guard = guard
        self._uow = engine.uow
        self._directory = engine.directory
        self._catalog = engine.catalog
        self._notifier = engine.notifier
        self._build = WorkflowBuilder(engine.clock, engine.settings)

    def buy(self, cmd: BuySubscription) -> WorkflowStatus:
        """Buy → Pending → poll until Enabled; an invoice purchase may wait for a credit check (R10)."""
        action = f"buy {cmd.seats} {cmd.product}"
        requester = self._guard.authorize(cmd.requester, action, cmd.correlation_id, target=cmd.product)
        with self._guard.refusals_audited(cmd.requester, action, cmd.correlation_id, target=cmd.product):
            if cmd.seats < 1:
                raise DomainError(f"Buy at least one license, not {cmd.seats}.", "For example `buy E5 10`.")
            known = self._catalog.resolve_any(cmd.product, self._directory.products())
            check_on_sale(known.part_number, known.display_name)  # R14
            subscriptions = self._directory.subscriptions()
        organization = self._directory.organization()
        product = ProductRef(known.sku_id, known.part_number, known.display_name)
        with self._uow() as uow:
            workflow = self._build.new(
                organization, WorkflowKind.PURCHASE, requester.name, product, channel=cmd.channel
            )
            workflow.seats = cmd.seats
            workflow.payment_method = cmd.payment_method
            workflow.known_subscriptions = tuple(s.id for s in subscriptions if s.sku_id == known.sku_id)
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def change_seats(self, cmd: ChangeSeats) -> WorkflowStatus:
        """Add or remove licenses on the product's largest active subscription; never below what
        users hold (R2)."""
        action = f"change {cmd.product} seats by {cmd.delta:+d}"
        requester = self._guard.authorize(cmd.requester, action, cmd.correlation_id, target=cmd.product)
        with self._guard.refusals_audited(cmd.requester, action, cmd.correlation_id, target=cmd.product):
            product = self._catalog.resolve(cmd.product, self._directory.products())
            if cmd.delta > 0:
                check_on_sale(product.part_number, product.display_name)  # R14
            subscription = seat_subscription(
                product, self._directory.subscriptions(), cmd.delta, cmd.subscription_id
            )
        organization = self._directory.organization()
        with self._uow() as uow:
            workflow = self._build.seats(
                organization, requester.name, product, subscription, cmd.delta, channel=cmd.channel
            )
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def start_switch(self, cmd: SwitchPlans) -> WorkflowStatus:
        """Switch plans (R11, R12, R15): everyone (`all`, `has:SOURCE`, no users) or the users named,
        from a product the tenant has to one it has or will buy."""
        action = f"switch {cmd.source} to {cmd.target}"
        who = audit_target(cmd.users) or "all"
        requester = self._guard.authorize(cmd.requester, action, cmd.correlation_id, target=who)
        organization = self._directory.organization()
        with self._guard.refusals_audited(cmd.requester, action, cmd.correlation_id, target=who):
            products = self._directory.products()
            source, target = self._source_and_target(cmd.source, cmd.target, products)
            check_source_active(ProductRef.of(source), self._directory.subscriptions())  # R11
            targets, moving = self._switch_targets(organization, source, target, cmd.users, products)
        with self._uow() as uow:
            workflow = self._build.new(
                organization, WorkflowKind.SWITCH, requester.name, target, channel=cmd.channel
            )
            workflow.source = ProductRef.of(source)
            workflow.targets = targets
            workflow.users_to_move = workflow.seats = moving
            workflow.payment_method = cmd.payment_method
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def start_upgrade(self, cmd: UpgradeFromE4) -> WorkflowStatus:
        """Upgrade from Office 365 E4 (R14): direct purchases only; at least E4's licenses; users keep
        E4 until moved; add-ons the target includes are offered for removal afterwards."""
        action = f"upgrade {cmd.source} to {cmd.target}"
        requester = self._guard.authorize(cmd.requester, action, cmd.correlation_id, target=cmd.source)
        with self._guard.refusals_audited(cmd.requester, action, cmd.correlation_id, target=cmd.source):
            products = self._directory.products()
            source, target = self._source_and_target(cmd.source, cmd.target, products)
            if source.part_number != E4_PART_NUMBER:
                raise DomainError(
                    f"The upgrade is for Office 365 E4, not {source.display_name}.",
                    f"Use `/subscription switch {short_name(source.part_number, source.display_name)} "
                    f"{short_name(target.part_number, target.display_name)}` instead.",
                    rule="R14",
                )
            subscriptions = self._directory.subscriptions()
            check_direct_purchase(ProductRef.of(source), subscriptions)  # R14
            check_source_active(ProductRef.of(source), subscriptions)  # R11
            holders = self._directory.users_with_product(source.sku_id)
        organization = self._directory.organization()
        e4_seats = sum(s.total_licenses for s in active_subscriptions(subscriptions, source.sku_id))
        with self._uow() as uow:
            workflow = self._build.new(
                organization, WorkflowKind.UPGRADE, requester.name, target, channel=cmd.channel
            )
            workflow.source = ProductRef.of(source)
            workflow.targets = (EVERYONE,)
            workflow.users_to_move = len(holders)
            workflow.seats = max(e4_seats, len(holders))
            workflow.payment_method = cmd.payment_method
            addons = redundant_addons(holders, products, self._with_plans(target))
            workflow.addons = tuple(ProductRef.of(p) for p in addons)
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def request_cancel(self, cmd: CancelSubscription) -> WorkflowStatus:
        """R13: the requester confirms (seeing who holds its licenses), then another Global or
        Billing admin approves, then it is cancelled (or an admin task) and verified by polling."""
        action = f"cancel {cmd.subscription}"
        requester = self._guard.authorize(cmd.requester, action, cmd.correlation_id, target=cmd.subscription)
        with self._guard.refusals_audited(cmd.requester, action, cmd.correlation_id, target=cmd.subscription):
            products = self._directory.products()
            subscription = self._subscription_to_cancel(
                cmd.subscription, self._directory.subscriptions(), products
            )
        tenant = Tenant(
            self._directory.organization(),
            products,
            [],
            {subscription.sku_id: self._directory.users_with_product(subscription.sku_id)},
        )
        with self._uow() as uow:
            busy = cancel_in_flight(uow, subscription.id)
            if busy is not None:
                refusal = DomainError(
                    f"Subscription {subscription.id} is already being cancelled (workflow {busy}).",
                    f"See `/subscription status {busy}`.",
                )
                self._guard.refuse(
                    uow, cmd.requester, action, refusal, cmd.correlation_id, target=cmd.subscription
                )
                raise refusal
            workflow = self._build.cancel(tenant, requester.name, subscription, channel=cmd.channel)
            started = self._add(uow, workflow, cmd.correlation_id)
        self._engine.tell(self._notifier.workflow_changed, started)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def _source_and_target(
        self, source_key: str, target_key: str, products: Sequence[Product]
    ) -> tuple[Product, Product]:
        source = self._catalog.resolve(source_key, products)
        try:
            known = self._catalog.resolve_any(target_key, products)
        except AmbiguousProduct as ambiguous:
            known = self._switched_to(source, ambiguous)
        target = next((p for p in products if p.sku_id == known.sku_id), None) or _unowned(known)
        if target.sku_id == source.sku_id:
            raise DomainError(
                f"{source.display_name} is both the source and the target.", "Name two products."
            )
        check_on_sale(target.part_number, target.display_name)  # R14
        return source, target

    def _switched_to(self, source: Product, ambiguous: AmbiguousProduct) -> KnownProduct:
        """An alias that fits several products the tenant does not have yet ("E5" before any E5 is
        bought): the one the source switches to in Microsoft's switch paths, in the source's own
        family (Office 365 E3 → Office 365 E5); still several, the question stands."""
        paths = [part for part, _ in ambiguous.choices if (source.part_number, part) in SWITCH_PATHS]
        family = source.display_name.rsplit(" ", 1)[0]
        same = [part for part in paths if self._catalog.display_name(part).startswith(f"{family} ")]
        chosen = same if len(same) == 1 else paths
        known = self._catalog.known(chosen[0]) if len(chosen) == 1 else None
        if known is None:
            raise ambiguous
        return known

    def _switch_targets(
        self,
        organization: Organization,
        source: Product,
        target: Product | None,
        users: Sequence[str],
        products: Sequence[Product],
    ) -> tuple[tuple[str, ...], int]:
        """Who moves: `(all,)` for everyone who holds the source, `has:PRODUCT`, or named users, each
        of whom must be in the organization (R8) and hold the source."""
        keys = [u.strip() for u in users if u.strip()]
        if not keys or any(k.casefold() == EVERYONE for k in keys):
            return (EVERYONE,), self._movable(source, target)
        if len(keys) == 1 and keys[0].casefold().startswith(HOLDERS_PREFIX):
            holders_of = self._catalog.resolve(keys[0][len(HOLDERS_PREFIX) :], products)
            if holders_of.sku_id == source.sku_id:
                return (EVERYONE,), self._movable(source, target)
            return (f"{HOLDERS_PREFIX}{holders_of.sku_id}",), self._movable(holders_of)
        chosen: dict[str, str] = {}
        for key in keys:
            user = self._directory.user(key)
            if user is None:
                raise UnknownUser(key)
            check_in_organization(user, organization)
            if not user.holds(source.sku_id):
                raise NothingToChange(
                    f"{user.display_name} does not hold {source.display_name}: nothing to switch.",
                    "Name only users who hold it, or use `all`.",
                )
            chosen.setdefault(user.id, user.user_principal_name)
        return tuple(chosen.values()), len(chosen)

    def _movable(self, product: Product, target: Product | None = None) -> int:
        """Holders of the product a switch moves who take a seat of the target: not those who get
        the product only from a group, whom the reassignment leaves out (R21: the group's own
        license is changed instead; they keep their seat), nor those who hold the target already,
        directly or from a group (a person takes one seat of a product whatever the sources, R2)."""
        if not product.seats.consumed:
            return 0
        holders = self._directory.users_with_product(product.sku_id)
        return sum(
            1
            for user in holders
            if not user.only_inherited(product.sku_id) and (target is None or not user.holds(target.sku_id))
        )

    def _subscription_to_cancel(
        self, key: str, subscriptions: Sequence[Subscription], products: Sequence[Product]
    ) -> Subscription:
        by_id = by_id_suffix(key, subscriptions)
        if by_id is not None:
            if not by_id.status.is_active:
                raise SubscriptionNotActive(
                    self._catalog.display_name(by_id.part_number),
                    by_id.status.label,
                    "There is nothing to cancel.",
                )
            return by_id
        try:
            product = self._catalog.resolve(key, products)
        except UnknownProduct:
            known = sorted({self._catalog.display_name(s.part_number) for s in subscriptions})
            raise UnknownProduct(key, known=known) from None
        return only_active(product, subscriptions)

    def _with_plans(self, product: Product) -> Product | None:
        """The target with its service plans, from the tenant or Microsoft's table (R14's add-ons)."""
        if product.service_plans:
            return product
        known = self._catalog.known(product.part_number)
        if known is None or not known.service_plans:
            return None
        return replace(
            product,
            service_plans=tuple(ServicePlan(p.id, p.name, p.display_name) for p in known.service_plans),
        )

    def _add(self, uow: UnitOfWork, workflow: Workflow, correlation_id: str) -> WorkflowStatus:
        """Keep a new workflow, audited (R20); the caller tells the Slack side after the commit."""
        uow.workflows.add(workflow)
        self._engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            f"start: {workflow.summary}",
            AuditResult.REQUESTED,
            correlation_id=correlation_id,
        )
        return self._engine.commit(uow, workflow)


def _unowned(known: KnownProduct) -> Product:
    """A product the tenant does not have yet (it will be bought): no seats."""
    plans = tuple(ServicePlan(p.id, p.name, p.display_name) for p in known.service_plans)
    return Product(known.sku_id, known.part_number, known.display_name, plans, Seats(0, 0))

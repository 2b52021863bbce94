"""Reading licenses for the Slack listeners: a user, the subscriptions, a user's services, App Home.

Each checks the requester may read (R16, refusals audited) and reads the tenant with no unit of
work open; App Home also reads the requester's recent changes from the audit (R20).
"""

from __future__ import annotations

from domain.application.authorization import Authorization
from domain.application.lookups import TenantLookups
from domain.application.results import HomeOverview, SubscriptionOverview, UserOverview, UserServices
from domain.catalog import ProductCatalog
from domain.commands import ListSubscriptions, ShowHome, ShowServices, ShowUser
from domain.errors import LicenseInherited, NothingToChange
from domain.model import Permission
from domain.ports import Clock, TenantDirectory, UnitOfWorkFactory

__all__ = ["RECENT_AUDIT_ENTRIES", "LicenseQueries"]

RECENT_AUDIT_ENTRIES = 200
"""Audit entries read for "my recent changes": enough for several bulk changes of many users."""


class LicenseQueries:
    """Show a user, list the subscriptions, show a user's services, the App Home overview."""

    def __init__(
        self, uow: UnitOfWorkFactory, directory: TenantDirectory, clock: Clock, catalog: ProductCatalog
    ) -> None:
        self._uow = uow
        self._directory = directory
        self._catalog = catalog
        self._authorization = Authorization(uow, directory, clock)
        self._lookups = TenantLookups(directory, catalog)

    def show_user(self, cmd: ShowUser) -> UserOverview:
        self._authorization.authorize_now(cmd.requester, Permission.READ, "show user", target=cmd.user)
        user = self._lookups.user(cmd.user)
        products = {p.sku_id: p for p in self._directory.products()}
        return UserOverview(user, products, self._lookups.group_names([user]))

    def list_subscriptions(self, cmd: ListSubscriptions) -> SubscriptionOverview:
        self._authorization.authorize_now(cmd.requester, Permission.READ, "list subscriptions")
        return SubscriptionOverview(
            self._directory.products(), self._directory.subscriptions(), self._directory.licensed_groups()
        )

    def services_of(self, cmd: ShowServices) -> UserServices:
        """A user's license of a product with its services, to turn them on or off (R5)."""
        self._authorization.authorize_now(cmd.requester, Permission.READ, "show services", target=cmd.user)
        user = self._lookups.user(cmd.user)
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
            names = self._lookups.group_names([user])
            groups = [names[g] for g in dict.fromkeys(user.groups_of(product.sku_id)) if g in names]
            raise LicenseInherited(user.display_name, product.display_name, groups, services=True)
        return UserServices(user, product, held)

    def home(self, cmd: ShowHome) -> HomeOverview:
        """The requester's overview for App Home: seats, subscriptions and their recent changes."""
        requester = self._authorization.authorize_now(cmd.requester, Permission.READ, "show the overview")
        products, subscriptions = self._directory.products(), self._directory.subscriptions()
        groups = self._directory.licensed_groups()
        with self._uow() as uow:
            recent = uow.audit.recent(limit=RECENT_AUDIT_ENTRIES, actor=requester.name)
        return HomeOverview(requester, products, subscriptions, recent, groups)

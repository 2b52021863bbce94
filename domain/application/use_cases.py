"""The license use cases over one tenant, built together from the same ports and settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.application.applier import BATCH_SIZE, LEASE_TTL, UNDO_TTL
from domain.application.authorization import Authorization
from domain.application.deliveries import Deliveries
from domain.application.group_changes import GroupChanges
from domain.application.history import ChangeHistory
from domain.application.license_queries import LicenseQueries
from domain.application.licensing import Licensing
from domain.application.planning import PREVIEW_TTL
from domain.application.waste import Waste
from domain.catalog import ProductCatalog
from domain.ports import Clock, TenantDirectory, UnitOfWorkFactory
from domain.prices import Prices

__all__ = ["LicenseUseCases"]


@dataclass(frozen=True, slots=True)
class LicenseUseCases:
    """What the Slack listeners call for licenses, one service per reason to change."""

    authorization: Authorization
    """Who asks and whether they may (R16); refusals audited (R20, R24)."""
    deliveries: Deliveries
    """Slack redeliveries recognised, whichever replica they reach."""
    changes: Licensing
    """Request, confirm, cancel and apply a change to users' licenses."""
    queries: LicenseQueries
    """Show a user, the subscriptions, a user's services, App Home."""
    history: ChangeHistory
    """A change by reference; retry what failed; undo."""
    groups: GroupChanges
    """A group's own licenses (R21)."""
    waste: Waste
    """Reclaim and the license report (R22)."""

    @classmethod
    def build(
        cls,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
        clock: Clock,
        catalog: ProductCatalog,
        *,
        preview_ttl: timedelta = PREVIEW_TTL,
        batch_size: int = BATCH_SIZE,
        undo_ttl: timedelta = UNDO_TTL,
        lease_ttl: timedelta = LEASE_TTL,
        owner: str | None = None,
        prices: Prices | None = None,
    ) -> LicenseUseCases:
        ports = (uow, directory, clock, catalog)
        return cls(
            authorization=Authorization(uow, directory, clock),
            deliveries=Deliveries(uow, clock),
            changes=Licensing(
                *ports,
                preview_ttl=preview_ttl,
                batch_size=batch_size,
                undo_ttl=undo_ttl,
                lease_ttl=lease_ttl,
                owner=owner,
            ),
            queries=LicenseQueries(*ports),
            history=ChangeHistory(*ports, preview_ttl=preview_ttl),
            groups=GroupChanges(*ports, preview_ttl=preview_ttl),
            waste=Waste(*ports, preview_ttl=preview_ttl, prices=prices),
        )

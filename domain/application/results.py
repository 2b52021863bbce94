"""What the license queries return for the Slack listeners to render (`handlers.blocks`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.application.authorization import Requester
from domain.audit import AuditEntry
from domain.model import Group, LicenseAssignment, Product, Subscription, User

__all__ = ["GroupOverview", "HomeOverview", "SubscriptionOverview", "UserOverview", "UserServices"]


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

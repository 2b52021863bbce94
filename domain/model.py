"""The Microsoft 365 licensing model as admins know it (DESIGN.md §2, R1–R9, R16, R18).

Everything here is a frozen value: the tenant is read into these objects, rules are checked on them,
and changes are described as new values. Names and enum values follow Microsoft Graph v1.0
(`subscribedSku`, `companySubscription`, `assignedLicense`, `user`), so adapters map them one to one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

__all__ = [
    "NO_ERROR",
    "ROLE_TEMPLATE_IDS",
    "AdminRole",
    "AssignmentError",
    "CapabilityStatus",
    "Cloud",
    "Group",
    "LicenseAssignment",
    "LicenseState",
    "Organization",
    "PaymentMethod",
    "Permission",
    "ProcessingState",
    "Product",
    "PurchaseChannel",
    "Seats",
    "ServicePlan",
    "Subscription",
    "SubscriptionStatus",
    "User",
    "licenses_by_sku",
    "licenses_from_json",
    "licenses_to_json",
]


class CapabilityStatus(StrEnum):
    """`subscribedSku.capabilityStatus` and `companySubscription.status` (R9)."""

    ENABLED = "Enabled"
    WARNING = "Warning"
    SUSPENDED = "Suspended"
    DELETED = "Deleted"
    LOCKED_OUT = "LockedOut"


class SubscriptionStatus(StrEnum):
    """R9 as the bot sees it: Graph's statuses plus Pending (bought, not yet listed or active)."""

    PENDING = "Pending"
    ENABLED = "Enabled"
    WARNING = "Warning"
    SUSPENDED = "Suspended"
    DELETED = "Deleted"
    LOCKED_OUT = "LockedOut"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def is_active(self) -> bool:
        return self is SubscriptionStatus.ENABLED


_STATUS_LABELS = {
    SubscriptionStatus.PENDING: "Pending (bought, not active yet)",
    SubscriptionStatus.ENABLED: "Active",
    SubscriptionStatus.WARNING: "Expired (grace period)",
    SubscriptionStatus.SUSPENDED: "Suspended",
    SubscriptionStatus.DELETED: "Deleted",
    SubscriptionStatus.LOCKED_OUT: "Locked out",
}


class PurchaseChannel(StrEnum):
    """How a subscription was bought; R14 allows the E4 upgrade only for direct purchases."""

    DIRECT = "direct"
    PARTNER = "partner"
    VOLUME_LICENSING = "volume-licensing"


class PaymentMethod(StrEnum):
    CARD = "card"
    INVOICE = "invoice"


class Cloud(StrEnum):
    """National clouds (R18): each has its own login, Graph and admin-center addresses."""

    WORLDWIDE = "worldwide"
    US_GOVERNMENT = "us-government"
    CHINA = "china"

    @property
    def login_authority(self) -> str:
        return _CLOUD_ENDPOINTS[self][0]

    @property
    def graph_url(self) -> str:
        return _CLOUD_ENDPOINTS[self][1]

    @property
    def admin_center_url(self) -> str:
        return _CLOUD_ENDPOINTS[self][2]

    @property
    def support_url(self) -> str:
        return f"{self.admin_center_url}/#/support"

    @property
    def label(self) -> str:
        return _CLOUD_ENDPOINTS[self][3]


_CLOUD_ENDPOINTS = {
    Cloud.WORLDWIDE: (
        "https://login.microsoftonline.com",
        "https://graph.microsoft.com",
        "https://admin.microsoft.com",
        "Microsoft 365 (worldwide)",
    ),
    Cloud.US_GOVERNMENT: (
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
        "https://portal.office365.us",
        "Microsoft 365 US Government",
    ),
    Cloud.CHINA: (
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://portal.partner.microsoftonline.cn",
        "Microsoft 365 operated by 21Vianet",
    ),
}


class AdminRole(StrEnum):
    """The Microsoft Entra roles that matter for licensing (R16)."""

    GLOBAL = "Global Administrator"
    BILLING = "Billing Administrator"
    LICENSE = "License Administrator"
    USER = "User Administrator"


ROLE_TEMPLATE_IDS: Mapping[str, AdminRole] = {
    "62e90394-69f5-4237-9190-012177145e10": AdminRole.GLOBAL,
    "b0f54661-2d74-4c50-afa3-1ec803f12efe": AdminRole.BILLING,
    "4d6ac14f-3453-41d0-bef9-a3e0c569773a": AdminRole.LICENSE,
    "fe930be7-5e62-47db-91af-98c3a49a38b1": AdminRole.USER,
}


class Permission(Enum):
    """What a command needs (R16)."""

    READ = "read licenses and subscriptions"
    MANAGE_LICENSES = "assign, replace or remove licenses and services"
    MANAGE_SUBSCRIPTIONS = "buy, cancel, add or remove seats, switch or upgrade plans"
    APPROVE = "approve a destructive subscription change"

    @property
    def roles(self) -> frozenset[AdminRole]:
        return _PERMISSION_ROLES[self]


_PERMISSION_ROLES = {
    Permission.READ: frozenset(AdminRole),
    Permission.MANAGE_LICENSES: frozenset(AdminRole),
    Permission.MANAGE_SUBSCRIPTIONS: frozenset({AdminRole.GLOBAL, AdminRole.BILLING}),
    Permission.APPROVE: frozenset({AdminRole.GLOBAL, AdminRole.BILLING}),
}


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """A service (app) inside a product, e.g. SWAY in Office 365 E3 (R5)."""

    id: str
    name: str
    display_name: str
    applies_to: str = "User"

    @property
    def automatic(self) -> bool:
        """Applies to the whole company and comes with the license: not toggled per user (R5)."""
        return self.applies_to != "User"


@dataclass(frozen=True, slots=True)
class Seats:
    """R2: available = enabled units − consumed (never negative; consumed can exceed enabled)."""

    enabled: int
    consumed: int
    warning: int = 0
    suspended: int = 0

    @property
    def available(self) -> int:
        return max(self.enabled - self.consumed, 0)

    def after(self, delta_consumed: int) -> Seats:
        return replace(self, consumed=self.consumed + delta_consumed)


@dataclass(frozen=True, slots=True)
class Product:
    """A licensable product as the tenant has it (`subscribedSku`, R1)."""

    sku_id: str
    part_number: str
    display_name: str
    service_plans: tuple[ServicePlan, ...]
    seats: Seats
    applies_to: str = "User"
    capability_status: CapabilityStatus = CapabilityStatus.ENABLED
    aliases: tuple[str, ...] = ()

    @property
    def assignable_to_users(self) -> bool:
        return self.applies_to == "User"

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.part_number})"

    def plan(self, key: str) -> ServicePlan | None:
        """A plan by id, part name or display name, case-insensitively."""
        wanted = key.strip().casefold()
        for plan in self.service_plans:
            if wanted in {plan.id.casefold(), plan.name.casefold(), plan.display_name.casefold()}:
                return plan
        return None

    @property
    def plan_ids(self) -> frozenset[str]:
        return frozenset(plan.id for plan in self.service_plans)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription (`companySubscription`) that feeds seats into one product's pool (R1, R9)."""

    id: str
    sku_id: str
    part_number: str
    status: SubscriptionStatus
    total_licenses: int
    created: datetime | None = None
    next_lifecycle: datetime | None = None
    is_trial: bool = False
    purchase_channel: PurchaseChannel = PurchaseChannel.DIRECT
    payment_method: PaymentMethod = PaymentMethod.CARD
    organization_id: str = ""


@dataclass(frozen=True, slots=True)
class LicenseAssignment:
    """One product assigned to a user, with the service plans turned off (`assignedLicense`)."""

    sku_id: str
    disabled_plans: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AssignmentError:
    """`licenseAssignmentStates[].error` reported by the directory for one product."""

    sku_id: str
    error: str


NO_ERROR = "None"
"""`licenseAssignmentState.error` of a license that works."""


@dataclass(frozen=True, slots=True)
class LicenseState:
    """One `licenseAssignmentState`: one source of one of a user's licenses (R21).

    `group_id` is Graph's `assignedByGroup`: None when the license is assigned to the user directly.
    A product held both directly and from groups has one state per source.
    """

    sku_id: str
    group_id: str | None = None
    disabled_plans: frozenset[str] = frozenset()
    error: str = NO_ERROR

    @property
    def direct(self) -> bool:
        return self.group_id is None

    @property
    def in_error(self) -> bool:
        return self.error not in {"", NO_ERROR}


@dataclass(frozen=True, slots=True)
class User:
    id: str
    user_principal_name: str
    display_name: str
    mail: str | None = None
    usage_location: str | None = None
    account_enabled: bool = True
    licenses: tuple[LicenseAssignment, ...] = ()
    """Every license the user has (Graph's `assignedLicenses`): direct and from groups together."""
    assignment_errors: tuple[AssignmentError, ...] = ()
    created: datetime | None = None
    """`createdDateTime`: when the account was created (None: not read)."""
    last_sign_in: datetime | None = None
    """The latest of `signInActivity`'s interactive and non-interactive sign-ins (R22); None when
    the user never signed in or sign-ins were not read (`UserQuery.sign_ins`)."""
    states: tuple[LicenseState, ...] = ()
    """Where each license comes from (`licenseAssignmentStates`, R21); empty when not read."""

    @property
    def inherits_any(self) -> bool:
        return any(not state.direct for state in self.states)

    @property
    def direct_licenses(self) -> tuple[LicenseAssignment, ...]:
        """The licenses assigned to the user directly: the only ones a write to the user changes
        (R21). Without any group source, every license is direct."""
        if not self.inherits_any:
            return self.licenses
        direct = [
            LicenseAssignment(state.sku_id, state.disabled_plans) for state in self.states if state.direct
        ]
        return tuple(sorted(direct, key=lambda lic: lic.sku_id))

    def groups_of(self, sku_id: str) -> tuple[str, ...]:
        """The groups (by object id) the user gets this product from, in error or not."""
        return tuple(
            state.group_id for state in self.states if state.sku_id == sku_id and state.group_id is not None
        )

    def has_direct(self, sku_id: str) -> bool:
        return any(lic.sku_id == sku_id for lic in self.direct_licenses)

    def only_inherited(self, sku_id: str) -> bool:
        """Held only from groups: Graph refuses to remove it from the user (R21)."""
        return self.holds(sku_id) and not self.has_direct(sku_id) and bool(self.groups_of(sku_id))

    def inherited_licenses(self) -> tuple[LicenseAssignment, ...]:
        """What the user's groups give them (working states only), one per product: a service is
        off only when every group turns it off."""
        return self._merged(lambda state: not state.direct)

    def licenses_apart_from(self, group_id: str) -> tuple[LicenseAssignment, ...]:
        """Every working license the user has from anything but this group (R21)."""
        if not self.inherits_any:
            return self.licenses
        return self._merged(lambda state: state.group_id != group_id)

    def _merged(self, keep: Callable[[LicenseState], bool]) -> tuple[LicenseAssignment, ...]:
        merged: dict[str, frozenset[str]] = {}
        for state in self.states:
            if state.in_error or not keep(state):
                continue
            known = merged.get(state.sku_id)
            merged[state.sku_id] = state.disabled_plans if known is None else known & state.disabled_plans
        return tuple(LicenseAssignment(sku, plans) for sku, plans in sorted(merged.items()))

    @property
    def domain(self) -> str:
        return self.user_principal_name.rpartition("@")[2].casefold()

    def license_for(self, sku_id: str) -> LicenseAssignment | None:
        return next((lic for lic in self.licenses if lic.sku_id == sku_id), None)

    def holds(self, sku_id: str) -> bool:
        return self.license_for(sku_id) is not None

    def with_licenses(self, licenses: Iterable[LicenseAssignment]) -> User:
        return replace(self, licenses=tuple(sorted(licenses, key=lambda lic: lic.sku_id)))


class ProcessingState(StrEnum):
    """`group.licenseProcessingState.state` (R21)."""

    QUEUED = "QueuedForProcessing"
    IN_PROGRESS = "ProcessingInProgress"
    COMPLETE = "ProcessingComplete"

    @property
    def label(self) -> str:
        return {
            ProcessingState.QUEUED: "waiting to be processed",
            ProcessingState.IN_PROGRESS: "being processed",
            ProcessingState.COMPLETE: "processed",
        }[self]


@dataclass(frozen=True, slots=True)
class Group:
    """A Microsoft Entra group with its own licenses (`group.assignedLicenses`, R21)."""

    id: str
    display_name: str
    mail_nickname: str = ""
    licenses: tuple[LicenseAssignment, ...] = ()
    processing: ProcessingState = ProcessingState.COMPLETE
    has_members_with_errors: bool = False
    member_count: int | None = None
    """The group's user members, when they were counted (`TenantDirectory.licensed_groups`)."""

    def license_for(self, sku_id: str) -> LicenseAssignment | None:
        return next((lic for lic in self.licenses if lic.sku_id == sku_id), None)


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    display_name: str
    verified_domains: frozenset[str]
    country_code: str = "US"
    cloud: Cloud = Cloud.WORLDWIDE
    default_domain: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def owns_address(self, address: str) -> bool:
        return address.rpartition("@")[2].casefold() in {d.casefold() for d in self.verified_domains}


def licenses_to_json(licenses: Iterable[LicenseAssignment]) -> list[dict[str, Any]]:
    """Graph's `assignedLicense` shape, `[{"skuId", "disabledPlans"}]`, sorted so that equal states
    give equal JSON: what the audit records (R20), storage keeps and `assignLicense` sends."""
    return [
        {"skuId": lic.sku_id, "disabledPlans": sorted(lic.disabled_plans)}
        for lic in sorted(licenses, key=lambda lic: lic.sku_id)
    ]


def licenses_from_json(value: Iterable[Mapping[str, Any]]) -> tuple[LicenseAssignment, ...]:
    return tuple(
        LicenseAssignment(str(item["skuId"]), frozenset(str(p) for p in item.get("disabledPlans", ())))
        for item in value
    )


def licenses_by_sku(licenses: Iterable[LicenseAssignment]) -> dict[str, LicenseAssignment]:
    return {lic.sku_id: lic for lic in licenses}

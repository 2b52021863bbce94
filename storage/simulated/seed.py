"""The Contoso demo tenant (DESIGN.md §6): what `licensebot shell --demo` starts from, and
`licensebot tenant show USER`.

About 25 people on contoso.com with Office 365 E3, E4 and E5, F3, Business Premium and the Audio
Conferencing add-on; admins for every role of R16; a user without a usage location (R4); plans that
conflict (F3's MCOIMP vs MCOSTANDARD of E3/E4/E5, R6); a subscription in its grace period and a
suspended one (R9); a product that applies to the company, not to users (R3). Seats leave room to
replace one user's license, but not to move every E3 user to E5 at once (R2). Waste to find (R22):
two disabled accounts holding licenses, two enabled ones inactive for months, and the F3
subscription renewing within two weeks with seats unused.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from domain.model import (
    ROLE_TEMPLATE_IDS,
    AdminRole,
    Cloud,
    LicenseAssignment,
    PaymentMethod,
    PurchaseChannel,
    SubscriptionStatus,
)
from domain.ports import Clock
from storage.orm import (
    SimGroupLicenseStateRow,
    SimGroupMemberRow,
    SimGroupRow,
    SimLicenseEventRow,
    SimOrganizationRow,
    SimProductRow,
    SimRoleAssignmentRow,
    SimServicePlanRow,
    SimSubscriptionRow,
    SimUserLicenseRow,
    SimUserRow,
    SimVerifiedDomainRow,
)
from storage.simulated.directory import SimulatedDirectory
from storage.simulated.products import (
    AUDIO_CONFERENCING,
    BUSINESS_PREMIUM,
    DEMO_PRODUCTS,
    EXTRA_FILE_STORAGE,
    O365_E3,
    O365_E4,
    O365_E5,
    O365_F3,
)
from storage.simulated.users import find_user_row, user_from_row

__all__ = [
    "DEMO_DOMAIN",
    "DEMO_GROUP_PROCESSING",
    "DEMO_ORGANIZATION_ID",
    "demo_group_id",
    "demo_subscription_id",
    "demo_user_id",
    "drop_group_licenses",
    "reset_demo_tenant",
    "show_user_json",
    "tenant_is_empty",
    "user_keys",
    "user_names",
    "user_row",
]

DEMO_DOMAIN: Final = "contoso.com"
_INITIAL_DOMAIN: Final = "contoso.onmicrosoft.com"
_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_DNS, _INITIAL_DOMAIN)
DEMO_ORGANIZATION_ID: Final = str(uuid.uuid5(_NAMESPACE, "organization"))

_ROLE_TEMPLATES: Final = {role: template for template, role in ROLE_TEMPLATE_IDS.items()}


def demo_user_id(user_principal_name: str) -> str:
    """The stable object id of a demo user: the same on every reset."""
    return str(uuid.uuid5(_NAMESPACE, user_principal_name.lower()))


def demo_group_id(mail_nickname: str) -> str:
    """The stable object id of a demo group."""
    return str(uuid.uuid5(_NAMESPACE, f"group:{mail_nickname}"))


def demo_subscription_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"subscription/{name}"))


@dataclass(frozen=True, slots=True)
class _Person:
    alias: str
    name: str
    usage_location: str | None
    products: tuple[str, ...] = ()
    roles: tuple[AdminRole, ...] = ()
    enabled: bool = True
    disabled_plans: dict[str, tuple[str, ...]] = field(default_factory=dict)
    signed_in_days_ago: int | None = 1
    """The last interactive sign-in; None: never."""
    background_days_ago: int | None = None
    """The last non-interactive sign-in (an app signing in for them); None: never."""
    created_days_ago: int = 400

    @property
    def upn(self) -> str:
        return f"{self.alias}@{DEMO_DOMAIN}"


_PEOPLE: Final = (
    _Person("alice", "Alice Wu", "US", (O365_E3,)),
    _Person("bob", "Bob Smith", "US", (O365_E3,)),
    _Person(
        "carol", "Carol Jones", "US", (O365_E3,), disabled_plans={O365_E3: ("SWAY", "YAMMER_ENTERPRISE")}
    ),
    _Person("dave", "Dave Brown", "US", (O365_E3,)),
    _Person("erin", "Erin Garcia", "US", (O365_E3,)),
    _Person("frank", "Frank Miller", "GB", (O365_E3,)),
    # Signed in herself long ago, but her apps still sign in for her: not inactive (R22).
    _Person("heidi", "Heidi Novak", "NL", (O365_E3,), signed_in_days_ago=150, background_days_ago=3),
    # Ivan, Yara and Zoe get E3 from the group All Staff E3 only, Judy from it and directly (R21).
    _Person("ivan", "Ivan Petrov", "US"),
    # Inactive (R22): last signed in four months ago.
    _Person("judy", "Judy Martin", "US", (O365_E3,), signed_in_days_ago=120),
    _Person("lena", "Lena Fischer", "DE", (O365_E3,), (AdminRole.LICENSE,)),
    _Person("uma", "Uma Rao", "US", (O365_E3,), (AdminRole.USER,)),
    # Inactive (R22): never signed in, account created half a year ago.
    _Person("yara", "Yara Haddad", "US", signed_in_days_ago=None, created_days_ago=200),
    _Person("zoe", "Zoe Clark", "US"),
    # Disabled accounts still holding licenses: reclaimable (R22).
    _Person("victor", "Victor Chen", "US", (O365_E3,), enabled=False, signed_in_days_ago=200),
    _Person("grace", "Grace Kim", "US", (O365_E5,), (AdminRole.GLOBAL,)),
    _Person("bill", "Bill Evans", "US", (O365_E5,), (AdminRole.BILLING,)),
    _Person("beatrice", "Beatrice Moss", "US", (O365_E5,), (AdminRole.BILLING,)),
    _Person("ken", "Ken Tanaka", "US", (O365_E4, AUDIO_CONFERENCING)),
    _Person("mike", "Mike Ross", "US", (O365_E4, AUDIO_CONFERENCING)),
    _Person("oscar", "Oscar Diaz", "US", (O365_E4, AUDIO_CONFERENCING)),
    _Person("peggy", "Peggy Olsen", "US", (O365_E4,)),
    _Person("wendy", "Wendy Park", "US", (O365_E4,)),
    _Person("quinn", "Quinn Taylor", "US", (O365_F3,)),
    _Person("rita", "Rita Patel", "US", (O365_F3,)),
    _Person("sam", "Sam Wilson", "US", (BUSINESS_PREMIUM,)),
    _Person("tina", "Tina Nguyen", "US", (BUSINESS_PREMIUM,)),
    _Person("xena", "Xena Ward", "US", (BUSINESS_PREMIUM,), enabled=False, signed_in_days_ago=95),
    _Person("nora", "Nora Lee", None),
)


@dataclass(frozen=True, slots=True)
class _Purchase:
    name: str
    part_number: str
    status: SubscriptionStatus
    seats: int
    age_days: int
    renews_in_days: int
    payment_method: PaymentMethod = PaymentMethod.CARD


_PURCHASES: Final = (
    _Purchase("e3", O365_E3, SubscriptionStatus.ENABLED, 25, 200, 165),
    # Not renewed: expired, in its grace period until it is suspended.
    _Purchase("e3-expired", O365_E3, SubscriptionStatus.WARNING, 5, 380, 15),
    _Purchase("e5", O365_E5, SubscriptionStatus.ENABLED, 10, 90, 275),
    # Bought directly by invoice, so the E4 upgrade of R14 is allowed.
    _Purchase("e4", O365_E4, SubscriptionStatus.ENABLED, 8, 700, 30, PaymentMethod.INVOICE),
    # Renews within two weeks with seats unused: the renewal alert of R22.
    _Purchase("f3", O365_F3, SubscriptionStatus.ENABLED, 5, 150, 10),
    _Purchase("spb", BUSINESS_PREMIUM, SubscriptionStatus.ENABLED, 5, 60, 305),
    _Purchase("audio", AUDIO_CONFERENCING, SubscriptionStatus.ENABLED, 5, 400, 330),
    _Purchase("storage", EXTRA_FILE_STORAGE, SubscriptionStatus.SUSPENDED, 10, 500, 20),
)

_GROUPS: Final = (
    # (display name, mail nickname, product, members): a licensed group, as most tenants have (R21).
    ("All Staff E3", "allstaffe3", O365_E3, ("ivan", "judy", "yara", "zoe")),
)
DEMO_GROUP_PROCESSING: Final = timedelta(seconds=5)
"""How long Microsoft 365 takes to process a change to a demo group's licenses (R21)."""

_WIPE_ORDER: Final = (
    SimGroupLicenseStateRow,
    SimGroupMemberRow,
    SimGroupRow,
    SimLicenseEventRow,
    SimRoleAssignmentRow,
    SimUserLicenseRow,
    SimUserRow,
    SimSubscriptionRow,
    SimServicePlanRow,
    SimProductRow,
    SimVerifiedDomainRow,
    SimOrganizationRow,
)


def tenant_is_empty(session: Session) -> bool:
    return session.scalar(select(SimOrganizationRow.id).limit(1)) is None


def reset_demo_tenant(session: Session, clock: Clock) -> None:
    """Wipe the simulated tenant (and its license history) and create the Contoso demo tenant.

    Runs in the session's transaction; the caller commits.
    """
    session.flush()
    for table in _WIPE_ORDER:
        session.execute(delete(table).execution_options(synchronize_session=False))
    # The rows are gone: forget the objects that stood for them, so new ones can take their ids.
    for instance in [obj for obj in session if isinstance(obj, _WIPE_ORDER)]:
        session.expunge(instance)
    now = clock.now()
    session.add(
        SimOrganizationRow(
            id=DEMO_ORGANIZATION_ID,
            display_name="Contoso",
            country_code="US",
            cloud=Cloud.WORLDWIDE.value,
            verified_domains=[
                SimVerifiedDomainRow(name=DEMO_DOMAIN, is_default=True, is_initial=False),
                SimVerifiedDomainRow(name=_INITIAL_DOMAIN, is_default=False, is_initial=True),
            ],
        )
    )
    for definition in DEMO_PRODUCTS.values():
        session.add(
            SimProductRow(
                sku_id=definition.sku_id,
                part_number=definition.part_number,
                display_name=definition.display_name,
                applies_to=definition.applies_to,
                service_plans=[
                    SimServicePlanRow(
                        plan_id=plan.id,
                        position=position,
                        name=plan.name,
                        display_name=plan.display_name,
                        applies_to=plan.applies_to,
                    )
                    for position, plan in enumerate(definition.service_plans)
                ],
            )
        )
    for purchase in _PURCHASES:
        created = now - timedelta(days=purchase.age_days)
        session.add(
            SimSubscriptionRow(
                id=demo_subscription_id(purchase.name),
                sku_id=DEMO_PRODUCTS[purchase.part_number].sku_id,
                status=purchase.status.value,
                total_licenses=purchase.seats,
                created=created,
                next_lifecycle=now + timedelta(days=purchase.renews_in_days),
                is_trial=False,
                purchase_channel=PurchaseChannel.DIRECT.value,
                payment_method=purchase.payment_method.value,
                activates_at=None,
            )
        )
    for person in _PEOPLE:
        session.add(_user_row(person, now))
    session.flush()
    groups = SimulatedDirectory(session, clock).groups
    for name, nickname, part, aliases in _GROUPS:
        groups.add(
            name,
            mail_nickname=nickname,
            members=[demo_user_id(f"{alias}@{DEMO_DOMAIN}") for alias in aliases],
            licenses=[LicenseAssignment(DEMO_PRODUCTS[part].sku_id)],
            processing_delay=DEMO_GROUP_PROCESSING,
            group_id=demo_group_id(nickname),
        )


def _user_row(person: _Person, now: datetime) -> SimUserRow:
    user_id = demo_user_id(person.upn)

    def ago(days: int | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    return SimUserRow(
        id=user_id,
        user_principal_name=person.upn,
        display_name=person.name,
        mail=person.upn,
        usage_location=person.usage_location,
        account_enabled=person.enabled,
        created=ago(person.created_days_ago),
        last_sign_in=ago(person.signed_in_days_ago),
        last_non_interactive_sign_in=ago(person.background_days_ago),
        licenses=[
            SimUserLicenseRow(
                sku_id=DEMO_PRODUCTS[part].sku_id,
                disabled_plans=sorted(
                    plan.id
                    for plan in DEMO_PRODUCTS[part].service_plans
                    if plan.name in person.disabled_plans.get(part, ())
                ),
            )
            for part in person.products
        ],
        roles=[SimRoleAssignmentRow(role_template_id=_ROLE_TEMPLATES[role]) for role in person.roles],
    )


def show_user_json(session: Session, key: str) -> dict[str, Any] | None:
    """For `licensebot tenant show USER`: the user (by id, user principal name or mail) as Graph would
    describe it, with `assignedLicenses` and directory roles; None when there is no such user.

    `disabledPlans` holds plan ids as in Graph; `disabledPlanNames` the same plans by name.
    """
    row = find_user_row(session, key)
    if row is None:
        return None
    products = {p.sku_id: p for p in session.scalars(select(SimProductRow))}
    templates = session.scalars(
        select(SimRoleAssignmentRow.role_template_id).where(SimRoleAssignmentRow.user_id == row.id)
    )
    user = user_from_row(row)
    group_names = {g.id: g.display_name for g in session.scalars(select(SimGroupRow))}
    licenses: list[dict[str, Any]] = []
    for lic in user.licenses:
        product = products[lic.sku_id]
        disabled = set(lic.disabled_plans)
        item: dict[str, Any] = {
            "skuId": lic.sku_id,
            "skuPartNumber": product.part_number,
            "displayName": product.display_name,
            "disabledPlans": sorted(disabled),
            "disabledPlanNames": [p.name for p in product.service_plans if p.plan_id in disabled],
        }
        groups = user.groups_of(lic.sku_id)
        if groups:
            # R21: where it comes from, as `licenseAssignmentStates` tells it.
            item["assignedByGroups"] = [group_names.get(g, g) for g in groups]
            item["assignedDirectly"] = user.has_direct(lic.sku_id)
        licenses.append(item)
    return {
        "id": row.id,
        "userPrincipalName": row.user_principal_name,
        "displayName": row.display_name,
        "mail": row.mail,
        "accountEnabled": row.account_enabled,
        "usageLocation": row.usage_location,
        "assignedLicenses": licenses,
        "directoryRoles": sorted(ROLE_TEMPLATE_IDS[t].value for t in templates if t in ROLE_TEMPLATE_IDS),
    }


def user_row(
    upn: str, name: str, products: Sequence[str] = (), *, usage_location: str | None = "US"
) -> SimUserRow:
    """A new user of the simulated tenant holding `products` (the demo's part numbers), every
    service on; the caller adds it to a session (and buys the seats, see `add_subscription`)."""
    return SimUserRow(
        id=demo_user_id(upn),
        user_principal_name=upn,
        display_name=name,
        mail=upn,
        usage_location=usage_location,
        account_enabled=True,
        licenses=[
            SimUserLicenseRow(sku_id=DEMO_PRODUCTS[part].sku_id, disabled_plans=[]) for part in products
        ],
    )


def user_keys(session: Session, typed: str) -> list[str]:
    """What `typed` may stand for: itself, and a bare name (alice) at each verified domain of the
    tenant, the default one first, as `@alice` stands for alice@<tenant domain> in the shell."""
    name = typed.strip().lstrip("@")
    if not name or "@" in name:
        return [typed]
    organization = session.scalars(select(SimOrganizationRow)).first()
    domains = sorted(
        organization.verified_domains if organization else [], key=lambda d: (not d.is_default, d.name)
    )
    return [typed, *(f"{name}@{domain.name}" for domain in domains)]


def user_names(session: Session) -> list[str]:
    """Every user principal name of the simulated tenant, in order."""
    upn = SimUserRow.user_principal_name
    return list(session.scalars(select(upn).order_by(upn)))


def drop_group_licenses(session: Session, sku_id: str) -> None:
    """No group gives the product any more, and its members no longer have it from one (R21): for
    a job that must select exactly its own holders of the product (benchmarks, chaos runs)."""
    session.execute(
        delete(SimGroupLicenseStateRow)
        .where(SimGroupLicenseStateRow.sku_id == sku_id)
        .execution_options(synchronize_session=False)
    )
    for row in session.scalars(select(SimGroupRow)):
        row.assigned_licenses = [lic for lic in row.assigned_licenses if lic.get("skuId") != sku_id]
    session.flush()

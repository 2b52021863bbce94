"""The simulated tenant (`sim_` tables): Graph's `organization`, `subscribedSku`, `companySubscription`,
`user`, `assignedLicense` and directory role assignments, plus an append-only history of license writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.orm.base import Base
from storage.orm.types import Json, UtcDateTime, big_id

__all__ = [
    "SimGroupLicenseStateRow",
    "SimGroupMemberRow",
    "SimGroupRow",
    "SimLicenseEventRow",
    "SimOrganizationRow",
    "SimProductRow",
    "SimRoleAssignmentRow",
    "SimServicePlanRow",
    "SimSubscriptionRow",
    "SimUserLicenseRow",
    "SimUserRow",
    "SimVerifiedDomainRow",
]


class SimOrganizationRow(Base):
    __tablename__ = "sim_organization"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(256))
    country_code: Mapped[str] = mapped_column(sa.String(2))
    cloud: Mapped[str] = mapped_column(sa.String(20))
    sign_in_activity: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    """Whether `signInActivity` can be read (R22: Microsoft Entra ID P1 and AuditLog.Read.All)."""

    verified_domains: Mapped[list[SimVerifiedDomainRow]] = relationship(
        order_by="SimVerifiedDomainRow.name", cascade="all, delete-orphan", lazy="selectin"
    )


class SimVerifiedDomainRow(Base):
    __tablename__ = "sim_verified_domains"

    organization_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_organization.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    is_default: Mapped[bool] = mapped_column(sa.Boolean)
    is_initial: Mapped[bool] = mapped_column(sa.Boolean)


class SimProductRow(Base):
    """`subscribedSku` without its counts: seats and capabilityStatus follow from the subscriptions
    and the users' licenses, so they are computed, never stored twice."""

    __tablename__ = "sim_products"

    sku_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    part_number: Mapped[str] = mapped_column(sa.String(128), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(256))
    applies_to: Mapped[str] = mapped_column(sa.String(16))

    service_plans: Mapped[list[SimServicePlanRow]] = relationship(
        order_by="SimServicePlanRow.position", cascade="all, delete-orphan", lazy="selectin"
    )


class SimServicePlanRow(Base):
    __tablename__ = "sim_service_plans"

    sku_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_products.sku_id", ondelete="CASCADE"), primary_key=True
    )
    plan_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(128))
    display_name: Mapped[str] = mapped_column(sa.String(256))
    applies_to: Mapped[str] = mapped_column(sa.String(16))
    """"User", or "Company" for services that come with the license automatically (R5)."""


class SimSubscriptionRow(Base):
    """`companySubscription`, plus what the bot needs to know about a purchase (R9, R10, R14)."""

    __tablename__ = "sim_subscriptions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    sku_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("sim_products.sku_id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    total_licenses: Mapped[int] = mapped_column(sa.Integer)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    next_lifecycle: Mapped[datetime | None] = mapped_column(UtcDateTime)
    is_trial: Mapped[bool] = mapped_column(sa.Boolean)
    purchase_channel: Mapped[str] = mapped_column(sa.String(20))
    payment_method: Mapped[str] = mapped_column(sa.String(20))
    activates_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When a Pending purchase becomes Enabled on its own (the credit check of R10); None: it waits."""


class SimUserRow(Base):
    __tablename__ = "sim_users"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_principal_name: Mapped[str] = mapped_column(sa.String(320), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(256))
    mail: Mapped[str | None] = mapped_column(sa.String(320))
    usage_location: Mapped[str | None] = mapped_column(sa.String(2))
    account_enabled: Mapped[bool] = mapped_column(sa.Boolean)
    created: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_sign_in: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """`signInActivity.lastSignInDateTime` (interactive); None: never."""
    last_non_interactive_sign_in: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """`signInActivity.lastNonInteractiveSignInDateTime`; None: never."""

    licenses: Mapped[list[SimUserLicenseRow]] = relationship(
        order_by="SimUserLicenseRow.sku_id", cascade="all, delete-orphan", lazy="selectin"
    )
    roles: Mapped[list[SimRoleAssignmentRow]] = relationship(cascade="all, delete-orphan")
    inherited: Mapped[list[SimGroupLicenseStateRow]] = relationship(
        order_by="(SimGroupLicenseStateRow.sku_id, SimGroupLicenseStateRow.group_id)",
        lazy="selectin",
        viewonly=True,
    )
    """The licenses the user's groups give them, as processed (R21)."""


class SimUserLicenseRow(Base):
    """`assignedLicense`: one product assigned to one user, with the service plans turned off (R5)."""

    __tablename__ = "sim_user_licenses"

    user_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_users.id", ondelete="CASCADE"), primary_key=True
    )
    sku_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_products.sku_id"), primary_key=True, index=True
    )
    disabled_plans: Mapped[list[str]] = mapped_column(Json)


class SimRoleAssignmentRow(Base):
    """A directory role held by a user, by role template id (`ROLE_TEMPLATE_IDS`, R16)."""

    __tablename__ = "sim_role_assignments"

    user_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_users.id", ondelete="CASCADE"), primary_key=True
    )
    role_template_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class SimLicenseEventRow(Base):
    """Every license write, in order (append-only): the proof that nobody was left without a
    license mid-move (R7) and that no write was applied twice."""

    __tablename__ = "sim_license_events"

    seq: Mapped[int] = mapped_column(big_id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    before: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    after: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    request_id: Mapped[str] = mapped_column(sa.String(64))


class SimGroupRow(Base):
    """A Microsoft Entra group with its own licenses (`group.assignedLicenses`, R21).

    Group licensing is asynchronous: a write sets `assigned_licenses` and starts processing, which
    reaches the members (`SimGroupLicenseStateRow`) once `processing_until` has passed; while it
    runs the members keep what the group gave them before. `processing_until` None while the state
    is not complete: processing is stalled (a fault a test or the simulator sets).
    """

    __tablename__ = "sim_groups"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(256), index=True)
    mail_nickname: Mapped[str] = mapped_column(sa.String(64))
    assigned_licenses: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    processing_state: Mapped[str] = mapped_column(sa.String(32))
    processing_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    processing_delay_seconds: Mapped[int] = mapped_column(sa.Integer)
    """How long processing takes after each write to this group."""


class SimGroupMemberRow(Base):
    __tablename__ = "sim_group_members"

    group_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SimGroupLicenseStateRow(Base):
    """One license a group gives one member, as processed: a `licenseAssignmentState` with
    `assignedByGroup`; `error` is "None" when it works (then it takes a seat, R2)."""

    __tablename__ = "sim_group_license_states"

    group_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    sku_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("sim_products.sku_id"), primary_key=True, index=True
    )
    disabled_plans: Mapped[list[str]] = mapped_column(Json)
    error: Mapped[str] = mapped_column(sa.String(40))

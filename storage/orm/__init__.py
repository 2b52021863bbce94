"""SQLAlchemy 2 declarative models: the bot's own state and the simulated tenant (`sim_` tables).

The schema is created and changed by the Alembic migrations in `storage/migrations/` only.
"""

from __future__ import annotations

from storage.orm.access import SignInFlowRow, SlackBindingRow
from storage.orm.base import Base
from storage.orm.state import (
    AuditRow,
    ChangeItemRow,
    ChangeSetRow,
    GroupFollowRow,
    IdempotencyKeyRow,
    WorkLeaseRow,
)
from storage.orm.tenant import (
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
from storage.orm.workflows import AdminTaskRow, ApprovalRow, WorkflowRow, WorkflowStepRow

__all__ = [
    "AdminTaskRow",
    "ApprovalRow",
    "AuditRow",
    "Base",
    "ChangeItemRow",
    "ChangeSetRow",
    "GroupFollowRow",
    "IdempotencyKeyRow",
    "SignInFlowRow",
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
    "SlackBindingRow",
    "WorkLeaseRow",
    "WorkflowRow",
    "WorkflowStepRow",
]

"""The approval of a destructive step (R13): another Global or Billing admin says yes or no.

States: pending → approved | rejected | expired. Approving checks, in this order: the request has not
expired, it is still pending (a double click or a second approver finds it decided), the approver is
not the requester, the approver holds Global or Billing admin, and — when users would lose access —
that the approver explicitly accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.errors import ApprovalNotPending, ApproverNotAllowed, UsersStillLicensed
from domain.model import AdminRole, Permission
from domain.workflows.workflow import ProductRef

__all__ = ["Approval", "ApprovalState"]


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(slots=True)
class Approval:
    id: str
    workflow_id: str
    product: ProductRef
    subscription_id: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    holders: tuple[str, ...] = ()
    """Who held the product's licenses when the approval was requested (shown to approvers)."""
    state: ApprovalState = ApprovalState.PENDING
    decided_by: str = ""
    decided_at: datetime | None = None
    accepted_loss_of_access: bool = False
    reason: str = ""
    channel: str = ""
    message_ts: str = ""
    """The approval request's Slack message, updated when it is decided or expires."""
    requested_by_id: str = ""
    """The requester's Entra object id: the approver must be another Entra user (R24), whatever
    Slack account or email either of them uses."""

    @property
    def action(self) -> str:
        return f"cancel the {self.product.display_name} subscription"

    def expire_if_due(self, now: datetime) -> bool:
        """Pending past its time → expired. True when it expired just now."""
        if self.state is ApprovalState.PENDING and now >= self.expires_at:
            self.state = ApprovalState.EXPIRED
            self.decided_at = self.expires_at
            return True
        return False

    def approve(
        self,
        approver: str,
        roles: frozenset[AdminRole],
        now: datetime,
        *,
        users_losing_access: int,
        accept_loss_of_access: bool,
        approver_id: str = "",
        shown_as: str = "",
    ) -> None:
        """`shown_as`: the approver's display name, how a refusal names them (as every other one does)."""
        self._require_decidable(now)
        same_entra_user = bool(approver_id) and approver_id == self.requested_by_id
        if same_entra_user or approver.casefold() == self.requested_by.casefold():
            raise ApproverNotAllowed(
                shown_as or approver,
                f"approve their own request to {self.action}",
                [],
                "Another Global or Billing admin must approve it.",
            )
        if not roles & Permission.APPROVE.roles:
            raise ApproverNotAllowed(
                shown_as or approver,
                f"approve the request to {self.action}",
                sorted(role.value for role in Permission.APPROVE.roles),
                "Only a Global or Billing admin other than the requester can approve a cancellation.",
            )
        if users_losing_access > 0 and not accept_loss_of_access:
            raise UsersStillLicensed(self.product.display_name, users_losing_access, self.holders)
        self.state = ApprovalState.APPROVED
        self.decided_by = approver
        self.decided_at = now
        self.accepted_loss_of_access = accept_loss_of_access and users_losing_access > 0

    def reject(
        self, by: str, roles: frozenset[AdminRole], now: datetime, reason: str = "", *, shown_as: str = ""
    ) -> None:
        """An approver says no, or the requester withdraws the request (`shown_as`: as for `approve`)."""
        self._require_decidable(now)
        is_requester = by.casefold() == self.requested_by.casefold()
        if not is_requester and not roles & Permission.APPROVE.roles:
            raise ApproverNotAllowed(
                shown_as or by,
                f"reject the request to {self.action}",
                sorted(role.value for role in Permission.APPROVE.roles),
            )
        self.state = ApprovalState.REJECTED
        self.decided_by = by
        self.decided_at = now
        self.reason = reason or ("withdrawn by the requester" if is_requester else "")

    def _require_decidable(self, now: datetime) -> None:
        self.expire_if_due(now)
        if self.state is not ApprovalState.PENDING:
            raise ApprovalNotPending(self.state.value, self.decided_by)

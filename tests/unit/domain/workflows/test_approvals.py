"""R13: a cancellation is approved by another Global or Billing admin, once, before it expires, and
never while users would lose access unless the approver says they may."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import ApprovalNotPending, ApproverNotAllowed, UsersStillLicensed
from domain.model import AdminRole
from domain.workflows import Approval, ApprovalState, ProductRef

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BILLING = frozenset({AdminRole.BILLING})
GLOBAL = frozenset({AdminRole.GLOBAL})


def approval() -> Approval:
    return Approval(
        id="ap1",
        workflow_id="wf1",
        product=ProductRef("sku-e3", "ENTERPRISEPACK", "Office 365 E3"),
        subscription_id="sub-e3",
        requested_by="bill@contoso.com",
        requested_at=NOW,
        expires_at=NOW + timedelta(hours=24),
        holders=("Alice Wu", "Bob Smith"),
        requested_by_id="oid-bill",
    )


def test_another_billing_or_global_admin_approves() -> None:
    request = approval()
    request.approve("grace@contoso.com", GLOBAL, NOW, users_losing_access=0, accept_loss_of_access=False)
    assert request.state is ApprovalState.APPROVED
    assert (request.decided_by, request.decided_at) == ("grace@contoso.com", NOW)
    assert not request.accepted_loss_of_access


def test_the_requester_cannot_approve_their_own_request() -> None:
    request = approval()
    with pytest.raises(ApproverNotAllowed, match="their own request") as refused:
        request.approve("BILL@contoso.com", BILLING, NOW, users_losing_access=0, accept_loss_of_access=False)
    assert refused.value.rule == "R13"
    assert request.state is ApprovalState.PENDING


def test_the_same_entra_user_under_another_name_cannot_approve_their_own_request() -> None:
    """R24: four eyes are two Entra users; a renamed account or a second address is the same one."""
    request = approval()
    with pytest.raises(ApproverNotAllowed, match="their own request"):
        request.approve(
            "william@contoso.com",
            BILLING,
            NOW,
            users_losing_access=0,
            accept_loss_of_access=False,
            approver_id="oid-bill",
        )
    assert request.state is ApprovalState.PENDING
    request.approve(
        "william@contoso.com",
        BILLING,
        NOW,
        users_losing_access=0,
        accept_loss_of_access=False,
        approver_id="oid-w",
    )
    assert request.state is ApprovalState.APPROVED


@pytest.mark.parametrize("role", [AdminRole.LICENSE, AdminRole.USER])
def test_a_license_or_user_admin_cannot_approve(role: AdminRole) -> None:
    request = approval()
    with pytest.raises(
        ApproverNotAllowed, match=r"may not approve the request to cancel .* Only a Global or Billing"
    ):
        request.approve(
            "lena@contoso.com", frozenset({role}), NOW, users_losing_access=0, accept_loss_of_access=False
        )
    assert request.state is ApprovalState.PENDING


def test_users_who_would_lose_access_need_the_approvers_explicit_yes() -> None:
    request = approval()
    with pytest.raises(UsersStillLicensed, match="2 users would lose Office 365 E3") as refused:
        request.approve("grace@contoso.com", GLOBAL, NOW, users_losing_access=2, accept_loss_of_access=False)
    assert "Alice Wu, Bob Smith" in refused.value.message
    assert refused.value.rule == "R13"
    assert request.state is ApprovalState.PENDING

    request.approve("grace@contoso.com", GLOBAL, NOW, users_losing_access=2, accept_loss_of_access=True)
    assert request.state is ApprovalState.APPROVED
    assert request.accepted_loss_of_access


def test_a_second_approval_finds_it_decided() -> None:
    request = approval()
    request.approve("grace@contoso.com", GLOBAL, NOW, users_losing_access=0, accept_loss_of_access=False)
    with pytest.raises(ApprovalNotPending, match=r"already approved by grace@contoso\.com"):
        request.approve(
            "beatrice@contoso.com", BILLING, NOW, users_losing_access=0, accept_loss_of_access=False
        )
    with pytest.raises(ApprovalNotPending):
        request.reject("beatrice@contoso.com", BILLING, NOW)


def test_an_approval_expires_after_its_time() -> None:
    request = approval()
    assert not request.expire_if_due(NOW + timedelta(hours=23))
    late = NOW + timedelta(hours=24)
    with pytest.raises(ApprovalNotPending, match="already expired"):
        request.approve("grace@contoso.com", GLOBAL, late, users_losing_access=0, accept_loss_of_access=False)
    assert request.state is ApprovalState.EXPIRED
    assert request.decided_at == request.expires_at
    assert not request.expire_if_due(late), "expires once"


def test_an_approver_rejects_or_the_requester_withdraws() -> None:
    rejected = approval()
    rejected.reject("grace@contoso.com", GLOBAL, NOW, "we still need it")
    assert (rejected.state, rejected.reason) == (ApprovalState.REJECTED, "we still need it")

    withdrawn = approval()
    withdrawn.reject("bill@contoso.com", BILLING, NOW)
    assert (withdrawn.state, withdrawn.reason) == (ApprovalState.REJECTED, "withdrawn by the requester")

    with pytest.raises(ApproverNotAllowed):
        approval().reject("lena@contoso.com", frozenset({AdminRole.LICENSE}), NOW)

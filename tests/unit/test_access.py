"""R24: which Slack accounts may act for a tenant user, decided from what Slack says about them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.access import Access, Installation, SlackAccount, account_refusal
from domain.errors import AccountRefused, DomainError, UnknownRequester

HOME = Installation(team_id="T1")
MEMBER = SlackAccount(user_id="U1", team_id="T1", email="lena@contoso.com", email_confirmed=True)


def test_a_full_member_with_a_confirmed_email_is_admitted() -> None:
    assert account_refusal(MEMBER, HOME) is None


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        (replace(MEMBER, guest=True), "a guest"),
        (replace(MEMBER, single_channel_guest=True), "a single-channel guest"),
        (replace(MEMBER, team_id="T2"), "another organization"),
        (replace(MEMBER, request_team_id="T2"), "another organization"),
        (replace(MEMBER, stranger=True), "another organization"),
        (replace(MEMBER, email_confirmed=False), "has not confirmed"),
        (replace(MEMBER, bot=True), "bots, apps and workflows"),
        (replace(MEMBER, app_user=True), "bots, apps and workflows"),
        (replace(MEMBER, deleted=True), "deactivated"),
    ],
)
def test_accounts_slack_does_not_vouch_for_are_refused_with_the_reason(
    account: SlackAccount, reason: str
) -> None:
    refusal = account_refusal(account, HOME)
    assert refusal is not None
    assert reason in refusal.message


def test_an_organization_wide_install_admits_members_of_its_other_workspaces_only() -> None:
    grid = Installation(team_id="T1", enterprise_id="E1", enterprise_install=True)
    assert account_refusal(replace(MEMBER, team_id="T7", enterprise_id="E1"), grid) is None
    assert account_refusal(replace(MEMBER, team_id="T7", enterprise_id="E2"), grid) is not None


def test_a_refusal_is_audited_before_it_is_raised_and_an_admitted_account_acts_by_its_email() -> None:
    audited: list[tuple[str, str, DomainError, str]] = []
    access = Access(lambda *refused: audited.append(refused))

    assert access.admit(MEMBER, HOME, "/license show", "c1") == "lena@contoso.com"
    with pytest.raises(AccountRefused):
        access.admit(replace(MEMBER, guest=True), HOME, "/license replace", "c2")
    ((who, action, refusal, correlation),) = audited
    assert (who, action, correlation) == ("lena@contoso.com", "/license replace", "c2")
    assert "guest" in refusal.message
    with pytest.raises(UnknownRequester):
        access.admit(replace(MEMBER, email=None), HOME, "/license show", "c3")

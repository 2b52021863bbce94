"""R24: which Slack accounts may act for a tenant user, decided from what Slack says about them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from domain.access import Access, Binding, Installation, SignedIn, SlackAccount, account_refusal
from domain.audit import AuditEntry
from domain.errors import AccountRefused, DomainError, SignInRequired, UnknownRequester
from domain.model import AdminRole, User
from handlers.people import slack_account
from tests.fakes import FixedClock

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


def test_a_workspace_of_an_enterprise_grid_admits_its_members_by_their_workspaces() -> None:
    workspace = Installation(team_id="T1", enterprise_id="E1")
    grid_member = replace(MEMBER, team_id="E1", enterprise_id="E1", enterprise_teams=("T1", "T3"))
    assert account_refusal(grid_member, workspace) is None
    assert account_refusal(replace(grid_member, enterprise_teams=("T3",)), workspace) is not None
    assert account_refusal(replace(grid_member, enterprise_id="E2"), workspace) is not None


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


class _Bindings:
    """`BindingStore` in memory, recording what it audited."""

    def __init__(self) -> None:
        self.bound: dict[str, Binding] = {}
        self.audited: list[AuditEntry] = []

    def get(self, slack_user_id: str) -> Binding | None:
        return self.bound.get(slack_user_id)

    def bind(self, binding: Binding, entry: AuditEntry) -> None:
        self.bound[binding.slack_user_id] = binding
        self.audited.append(entry)

    def unbind(self, slack_user_id: str, entry: AuditEntry) -> bool:
        if self.bound.pop(slack_user_id, None) is None:
            return False
        self.audited.append(entry)
        return True

    def saw_email(self, slack_user_id: str, email: str, entry: AuditEntry) -> None:
        self.bound[slack_user_id] = replace(self.bound[slack_user_id], email=email)
        self.audited.append(entry)


class _SignIn:
    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, account: SlackAccount) -> str:
        self.started.append(account.user_id)
        return "Go to https://microsoft.com/devicelogin and enter the code ABC."


LENA_USER = User("oid-lena", "lena@contoso.com", "Lena Fischer")


@dataclass
class _Entra:
    bindings: _Bindings
    sign_in: _SignIn
    access: Access
    refused: list[tuple[str, str, DomainError, str]]
    tenant: dict[str, tuple[User | None, frozenset[AdminRole]]]


@pytest.fixture
def entra() -> _Entra:
    bindings, sign_in = _Bindings(), _SignIn()
    refused: list[tuple[str, str, DomainError, str]] = []
    tenant = {"oid-lena": (LENA_USER, frozenset({AdminRole.LICENSE}))}
    access = Access(
        lambda *refusal: refused.append(refusal),
        bindings=bindings,
        sign_in=sign_in,
        standing=lambda oid: tenant.get(oid, (None, frozenset())),
        clock=FixedClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),
    )
    return _Entra(bindings, sign_in, access, refused, tenant)


def test_entra_an_unbound_account_is_asked_to_sign_in_and_the_refusal_audited(entra: _Entra) -> None:
    with pytest.raises(SignInRequired, match="sign in once with Microsoft") as asked:
        entra.access.admit(MEMBER, HOME, "/license replace", "c1")
    assert "enter the code ABC" in asked.value.message
    assert entra.sign_in.started == ["U1"]
    assert [(who, action) for who, action, _, _ in entra.refused] == [
        ("lena@contoso.com", "/license replace")
    ]


def test_entra_a_bound_account_acts_for_its_entra_user_and_a_new_email_is_noticed_once(entra: _Entra) -> None:
    entra.access.signed_in(MEMBER, SignedIn("oid-lena", "lena@contoso.com"))
    carol = replace(MEMBER, email="carol@contoso.com")

    assert entra.access.admit(carol, HOME, "/license show", "c1") == "oid-lena"
    assert entra.access.admit(carol, HOME, "/license show", "c2") == "oid-lena"

    actions = [e.action for e in entra.bindings.audited]
    assert actions == ["sign in with Microsoft", "slack profile email changed"]
    assert "carol@contoso.com" in entra.bindings.audited[1].reason


@pytest.mark.parametrize(
    ("standing", "why"),
    [
        ((None, frozenset()), "no longer exists"),
        ((replace(LENA_USER, account_enabled=False), frozenset({AdminRole.LICENSE})), "is disabled"),
        ((LENA_USER, frozenset()), "no longer holds an admin role"),
    ],
)
def test_entra_a_deleted_disabled_or_roleless_user_is_unbound_and_asked_to_sign_in_again(
    entra: _Entra, standing: tuple[User | None, frozenset[AdminRole]], why: str
) -> None:
    entra.access.signed_in(MEMBER, SignedIn("oid-lena", "lena@contoso.com"))
    entra.tenant["oid-lena"] = standing

    with pytest.raises(SignInRequired, match=why):
        entra.access.admit(MEMBER, HOME, "/license replace", "c1")

    assert entra.bindings.get("U1") is None
    assert entra.bindings.audited[-1].action == "unbind"
    assert why in entra.bindings.audited[-1].reason


def test_entra_sign_out_forgets_once_and_email_mode_has_nothing_to_forget(entra: _Entra) -> None:
    entra.access.signed_in(MEMBER, SignedIn("oid-lena", "lena@contoso.com"))
    gone = entra.access.sign_out(MEMBER)
    assert gone is not None
    assert gone.object_id == "oid-lena"
    assert entra.access.sign_out(MEMBER) is None
    with pytest.raises(DomainError, match="no Microsoft sign-in"):
        Access(lambda *_: None).sign_out(MEMBER)


def test_slacks_user_object_is_read_as_slack_says_it_and_an_unreported_confirmation_counts_against() -> None:
    user = {
        "id": "U9",
        "team_id": "E1",
        "deleted": False,
        "is_bot": False,
        "is_app_user": False,
        "is_restricted": True,
        "is_ultra_restricted": True,
        "profile": {"email": "lena@contoso.com"},
        "enterprise_user": {"enterprise_id": "E1", "teams": ["T1", "T2"]},
    }
    account = slack_account(user, request_team="T1")
    assert account == SlackAccount(
        user_id="U9",
        team_id="E1",
        email="lena@contoso.com",
        request_team_id="T1",
        enterprise_id="E1",
        enterprise_teams=("T1", "T2"),
        guest=True,
        single_channel_guest=True,
        email_confirmed=False,
    )
    assert slack_account({**user, "is_email_confirmed": True}).email_confirmed

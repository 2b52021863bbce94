"""R24 on SQLite and PostgreSQL: bindings change with their audit entry, and a browser sign-in's flow
is taken once, before it expires; the Slack ids of a request reach the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.access import Binding
from domain.audit import AuditEntry, AuditResult, SlackOrigin, set_slack_origin
from storage.access import SqlBindingStore, SqlSignInFlows
from storage.orm import AuditRow
from storage.repositories import SqlAuditLog

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BINDING = Binding("U1", "T1", "oid-lena", "lena@contoso.com", "lena@contoso.com", NOW)


def _entry(action: str) -> AuditEntry:
    return AuditEntry(at=NOW, actor="lena@contoso.com", action=action, result=AuditResult.APPLIED)


def _actions(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AuditRow.action).order_by(AuditRow.id)))


def test_a_binding_is_kept_noticed_and_forgotten_each_time_with_its_audit_entry(
    sessions: sessionmaker[Session],
) -> None:
    store = SqlBindingStore(sessions)
    store.bind(BINDING, _entry("sign in with Microsoft"))
    assert store.get("U1") == BINDING

    store.saw_email("U1", "carol@contoso.com", _entry("slack profile email changed"))
    store.saw_email("U1", "CAROL@contoso.com", _entry("not recorded: the same address"))
    found = store.get("U1")
    assert found is not None
    assert found.email == "carol@contoso.com"

    assert store.unbind("U1", _entry("sign out"))
    assert not store.unbind("U1", _entry("not recorded: nothing to unbind"))
    assert store.get("U1") is None
    assert _actions(sessions) == ["sign in with Microsoft", "slack profile email changed", "sign out"]


def test_a_browser_sign_in_is_taken_once_and_not_after_it_expired(sessions: sessionmaker[Session]) -> None:
    flows = SqlSignInFlows(sessions)
    flows.add(
        "state-1",
        "U1",
        {"user_id": "U1"},
        {"state": "state-1", "code_verifier": "v"},
        NOW + timedelta(minutes=10),
    )
    flows.add("state-2", "U2", {"user_id": "U2"}, {"state": "state-2"}, NOW + timedelta(minutes=10))

    flows.add("state-0", "U3", {"user_id": "U3"}, {"state": "state-0"}, NOW + timedelta(minutes=10))
    flows.add("state-3", "U3", {"user_id": "U3"}, {"state": "state-3"}, NOW + timedelta(minutes=10))

    assert flows.take("state-0", NOW) is None, "a person's newer sign-in replaced it"
    assert flows.take("state-3", NOW) == ({"user_id": "U3"}, {"state": "state-3"})
    assert flows.take("state-1", NOW) == ({"user_id": "U1"}, {"state": "state-1", "code_verifier": "v"})
    assert flows.take("state-1", NOW) is None
    assert flows.take("state-2", NOW + timedelta(minutes=11)) is None
    assert flows.take("unknown", NOW) is None


def test_audit_entries_record_the_slack_account_of_the_request(sessions: sessionmaker[Session]) -> None:
    set_slack_origin(SlackOrigin("U1", "T1"))
    try:
        during = _entry("during the request")
    finally:
        set_slack_origin(None)
    after = _entry("the bot's own work")
    with sessions.begin() as session:
        SqlAuditLog(session).record(during)
        SqlAuditLog(session).record(after)
    with sessions() as session:
        recorded = SqlAuditLog(session).recent(limit=2)
    assert [(e.action, e.slack_user, e.slack_team) for e in recorded] == [
        ("the bot's own work", "", ""),
        ("during the request", "U1", "T1"),
    ]

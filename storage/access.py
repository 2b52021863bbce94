"""`domain.access.BindingStore` on SQLAlchemy: each change of a binding and its audit entry in one
short transaction (R24, R20); and the browser sign-ins waiting for Microsoft's redirect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from domain.access import Binding
from domain.audit import AuditEntry
from storage.orm import SignInFlowRow, SlackBindingRow
from storage.repositories import SqlAuditLog

__all__ = ["SqlBindingStore", "SqlSignInFlows"]


class SqlBindingStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def get(self, slack_user_id: str) -> Binding | None:
        with self._sessions() as session:
            row = session.get(SlackBindingRow, slack_user_id)
            return None if row is None else _binding(row)

    def bind(self, binding: Binding, entry: AuditEntry) -> None:
        with self._sessions.begin() as session:
            row = session.get(SlackBindingRow, binding.slack_user_id, with_for_update=True)
            if row is None:
                row = SlackBindingRow(slack_user_id=binding.slack_user_id)
                session.add(row)
            row.slack_team_id = binding.slack_team_id
            row.object_id = binding.object_id
            row.user_principal_name = binding.user_principal_name
            row.email = binding.email
            row.bound_at = binding.bound_at
            SqlAuditLog(session).record(entry)

    def unbind(self, slack_user_id: str, entry: AuditEntry) -> bool:
        with self._sessions.begin() as session:
            row = session.get(SlackBindingRow, slack_user_id, with_for_update=True)
            if row is None:
                return False
            session.delete(row)
            SqlAuditLog(session).record(entry)
            return True

    def saw_email(self, slack_user_id: str, email: str, entry: AuditEntry) -> None:
        with self._sessions.begin() as session:
            row = session.get(SlackBindingRow, slack_user_id, with_for_update=True)
            if row is not None and row.email.casefold() != email.casefold():
                row.email = email
                SqlAuditLog(session).record(entry)


class SqlSignInFlows:
    """Browser sign-ins by their `state`, taken once: a replayed redirect finds nothing."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(
        self,
        state: str,
        slack_user_id: str,
        account: dict[str, Any],
        flow: dict[str, Any],
        expires_at: datetime,
    ) -> None:
        """Keep a sign-in until `expires_at`. It replaces the person's earlier ones: only the newest
        link works, and sign-ins nobody finished do not pile up."""
        with self._sessions.begin() as session:
            session.execute(delete(SignInFlowRow).where(SignInFlowRow.slack_user_id == slack_user_id))
            session.add(
                SignInFlowRow(
                    state=state,
                    slack_user_id=slack_user_id,
                    account=account,
                    flow=flow,
                    expires_at=expires_at,
                )
            )

    def take(self, state: str, now: datetime) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The account and the flow of `state`, removed; None when unknown or expired."""
        with self._sessions.begin() as session:
            row = session.scalars(
                select(SignInFlowRow).where(SignInFlowRow.state == state).with_for_update()
            ).one_or_none()
            if row is None:
                return None
            session.delete(row)
            session.execute(delete(SignInFlowRow).where(SignInFlowRow.expires_at < now))
            return (dict(row.account), dict(row.flow)) if row.expires_at > now else None


def _binding(row: SlackBindingRow) -> Binding:
    return Binding(
        slack_user_id=row.slack_user_id,
        slack_team_id=row.slack_team_id,
        object_id=row.object_id,
        user_principal_name=row.user_principal_name,
        email=row.email,
        bound_at=row.bound_at,
    )

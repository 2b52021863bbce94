"""Who is asking (R24): Slack accounts bound to Entra users, and Microsoft sign-ins under way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.orm.base import Base
from storage.orm.types import Json, UtcDateTime

__all__ = ["SignInFlowRow", "SlackBindingRow"]


class SlackBindingRow(Base):
    """`domain.access.Binding`: one Slack account, one Entra user."""

    __tablename__ = "slack_bindings"

    slack_user_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    slack_team_id: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_principal_name: Mapped[str] = mapped_column(sa.String(320))
    email: Mapped[str] = mapped_column(sa.String(320))
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SignInFlowRow(Base):
    """A browser sign-in (authorization code with PKCE) waiting for Microsoft's redirect, by its
    `state`: whichever replica the redirect reaches finishes it."""

    __tablename__ = "sign_in_flows"

    state: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(sa.String(32))
    account: Mapped[dict[str, Any]] = mapped_column(Json)
    flow: Mapped[dict[str, Any]] = mapped_column(Json)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)

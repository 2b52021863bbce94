"""The simulated Microsoft 365 tenant: the default backend, kept in the bot's own database."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from domain.ports import Clock
from storage.simulated.directory import SimulatedDirectory
from storage.simulated.seed import (
    DEMO_DOMAIN,
    demo_subscription_id,
    demo_user_id,
    reset_demo_tenant,
    show_user_json,
    tenant_is_empty,
)

__all__ = [
    "DEMO_DOMAIN",
    "SimulatedDirectory",
    "demo_subscription_id",
    "demo_user_id",
    "directory_factory",
    "reset_demo_tenant",
    "show_user_json",
    "tenant_is_empty",
]


def directory_factory(clock: Clock) -> Callable[[Session], SimulatedDirectory]:
    """For `SqlUnitOfWorkFactory`: each unit of work gets a directory on its own session."""

    def build(session: Session) -> SimulatedDirectory:
        return SimulatedDirectory(session, clock)

    return build

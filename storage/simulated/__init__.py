"""The simulated Microsoft 365 tenant: the default backend, kept in the bot's own database."""

from __future__ import annotations

from storage.simulated.directory import SimulatedDirectory
from storage.simulated.seed import (
    DEMO_DOMAIN,
    demo_subscription_id,
    demo_user_id,
    reset_demo_tenant,
    show_user_json,
    tenant_is_empty,
)
from storage.simulated.tenant_port import SimulatedTenant

__all__ = [
    "DEMO_DOMAIN",
    "SimulatedDirectory",
    "SimulatedTenant",
    "demo_subscription_id",
    "demo_user_id",
    "reset_demo_tenant",
    "show_user_json",
    "tenant_is_empty",
]

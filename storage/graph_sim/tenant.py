"""Where the Graph simulator's data lives: the simulated tenant (`SimulatedDirectory`) in a database.

Every (sub-)request runs in its own session and commits on success, as each Graph request stands on
its own. Requests are served one at a time against the database (the simulator's threads wait for
each other here, and only here), which keeps an in-memory SQLite database safe to share.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool

from domain.model import AdminRole, Group, LicenseAssignment, Organization, Product, Subscription, User
from domain.ports import Clock
from storage.database import create_engine, session_factory
from storage.migrate import ensure_schema
from storage.simulated import SimulatedDirectory, reset_demo_tenant, tenant_is_empty
from storage.simulated.directory import AccountActivity

__all__ = ["DatabaseTenant", "SimTenant", "TenantSource", "UtcClock"]

IN_MEMORY = "sqlite://"
STALLED = timedelta(days=3650)
"""A processing delay no test or demo outlives: the group's processing stalls."""


class SimTenant(Protocol):
    """What the simulator reads and writes: the `TenantDirectory` reads, every user, and Graph's
    `assignLicense` (which raises the domain error of the first rule that refuses)."""

    def organization(self) -> Organization: ...

    def products(self) -> list[Product]: ...

    def subscriptions(self) -> list[Subscription]: ...

    def user(self, key: str) -> User | None: ...

    def users(self) -> list[User]: ...

    def users_with_product(self, sku_id: str) -> list[User]: ...

    def admin_roles(self, user_id: str) -> frozenset[AdminRole]: ...

    def allows_sign_in_activity(self) -> bool: ...

    def account_activity(self, user_ids: Sequence[str]) -> dict[str, AccountActivity]: ...
    def find_groups(self, key: str) -> list[Group]: ...

    def list_groups(self) -> list[Group]: ...

    def licensed_groups(self) -> list[Group]: ...

    def groups_by_id(self, group_ids: Sequence[str]) -> dict[str, Group | None]: ...

    def group_members(self, group_id: str) -> list[User]: ...

    def members_with_license_errors(self, group_id: str) -> list[User]: ...

    def assign_group_license(
        self, group_id: str, add: Sequence[LicenseAssignment], remove: Sequence[str]
    ) -> Group: ...

    def assign_license(
        self,
        user_key: str,
        add: Sequence[LicenseAssignment],
        remove: Sequence[str],
        *,
        request_id: str | None = None,
    ) -> User: ...


class TenantSource(Protocol):
    def session(self) -> AbstractContextManager[SimTenant]:
        """One transaction on the tenant, committed when the block ends normally."""
        ...


class UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class DatabaseTenant:
    """The simulated tenant in a database: a URL (created and migrated if new), or a fresh in-memory
    SQLite database. With `seed_demo`, an empty tenant becomes the Contoso demo tenant."""

    def __init__(
        self,
        url: str | None = None,
        *,
        seed_demo: bool = True,
        engine: Engine | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock: Clock = clock or UtcClock()
        if engine is not None:
            self._engine = engine
        elif url is None or url == IN_MEMORY:
            # One shared connection: an in-memory database exists only as long as it does.
            self._engine = create_engine(
                IN_MEMORY, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        else:
            self._engine = create_engine(url)
        self._owns_engine = engine is None
        self._sessions = session_factory(self._engine)
        self._lock = threading.Lock()
        ensure_schema(self._engine)
        if seed_demo:
            with self._lock, self._sessions() as session:
                if tenant_is_empty(session):
                    reset_demo_tenant(session, self._clock)
                    session.commit()

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def session(self) -> Iterator[SimTenant]:
        """One transaction: committed when the block ends normally, rolled back otherwise."""
        with self._lock, self._sessions() as session:
            yield SimulatedDirectory(session, self._clock)
            session.commit()

    def group_processing(self, *, seconds: float | None = None, stalled: Sequence[str] = ()) -> None:
        """How long Microsoft 365 takes to process a change to a group's licenses (R21): `seconds`
        for every group; the `stalled` groups (by name, mail nickname or id) never finish one."""
        with self._lock, self._sessions() as session:
            groups = SimulatedDirectory(session, self._clock).groups
            if seconds is not None:
                for group in groups.all():
                    groups.set_processing_delay(group.id, timedelta(seconds=seconds))
            for key in stalled:
                found = groups.find(key)
                if not found:
                    raise ValueError(f"there is no group {key!r} to stall")
                for group in found:
                    groups.set_processing_delay(group.id, STALLED)
            session.commit()

    def reset_demo(self) -> None:
        with self._lock, self._sessions() as session:
            reset_demo_tenant(session, self._clock)
            session.commit()

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

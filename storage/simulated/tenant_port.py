"""The simulated tenant as the services are given it (`domain.ports.TenantDirectory`): a short session
of its own per call, as a remote system would, never inside the bot's unit of work (DESIGN.md §5)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from domain.changes import ChangeOutcome, UserChange
from domain.model import AdminRole, Group, LicenseAssignment, Organization, Product, Subscription, User
from domain.ports import SIGN_INS_PAGE, USERS_PAGE, Clock, UserQuery
from domain.transactions import forbid_remote_call
from storage.simulated.directory import SimulatedDirectory

__all__ = ["SimulatedTenant"]


class SimulatedTenant:
    """`domain.ports.TenantDirectory` for the services: every call is a short transaction of its
    own on the simulated tenant, and none is made while the caller has a unit of work open."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    @contextmanager
    def _tenant(self, what: str) -> Iterator[SimulatedDirectory]:
        forbid_remote_call(f"the simulated tenant ({what})")
        with self._sessions() as session:
            yield SimulatedDirectory(session, self._clock)
            session.commit()

    def organization(self) -> Organization:
        with self._tenant("organization") as tenant:
            return tenant.organization()

    def products(self) -> list[Product]:
        with self._tenant("products") as tenant:
            return tenant.products()

    def subscriptions(self) -> list[Subscription]:
        with self._tenant("subscriptions") as tenant:
            return tenant.subscriptions()

    def user(self, key: str) -> User | None:
        with self._tenant("user") as tenant:
            return tenant.user(key)

    def users_by_id(self, user_ids: Sequence[str]) -> dict[str, User | None]:
        with self._tenant("users") as tenant:
            return tenant.users_by_id(user_ids)

    def user_pages(self, query: UserQuery) -> Iterator[list[User]]:
        """Each page in a short transaction of its own, as Graph serves each page on its own."""
        size = SIGN_INS_PAGE if query.sign_ins else USERS_PAGE
        after = ""
        while True:
            with self._tenant("a page of users") as tenant:
                page = tenant.user_page(query, after, size)
            if page:
                yield page
            if len(page) < size:
                return
            after = page[-1].id

    def users_with_product(self, sku_id: str) -> list[User]:
        with self._tenant("users with a product") as tenant:
            return tenant.users_with_product(sku_id)

    def admin_roles(self, user_id: str) -> frozenset[AdminRole]:
        with self._tenant("admin roles") as tenant:
            return tenant.admin_roles(user_id)

    def apply(self, changes: Sequence[UserChange], *, verify: bool = False) -> list[ChangeOutcome]:
        """The writes commit when the block ends; an error rolls them back (nothing half-written)."""
        with self._tenant("license writes") as tenant:
            return tenant.apply(changes, verify=verify)

    def find_groups(self, key: str) -> list[Group]:
        with self._tenant("groups") as tenant:
            return tenant.find_groups(key)

    def groups_by_id(self, group_ids: Sequence[str]) -> dict[str, Group | None]:
        with self._tenant("groups") as tenant:
            return tenant.groups_by_id(group_ids)

    def licensed_groups(self) -> list[Group]:
        with self._tenant("licensed groups") as tenant:
            return tenant.licensed_groups()

    def group_members(self, group_id: str) -> list[User]:
        with self._tenant("group members") as tenant:
            return tenant.group_members(group_id)

    def members_with_license_errors(self, group_id: str) -> list[User]:
        with self._tenant("group members in error") as tenant:
            return tenant.members_with_license_errors(group_id)

    def assign_group_license(
        self, group_id: str, add: Sequence[LicenseAssignment], remove: Sequence[str]
    ) -> Group:
        with self._tenant("a group's license write") as tenant:
            return tenant.assign_group_license(group_id, add, remove)

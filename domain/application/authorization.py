"""Who asks and whether they may (R16), with every refusal audited in its own commit (R20).

The requester is read from the tenant directory before a unit of work opens (`identify`), then
authorized inside one without another directory call (`authorize`); a service with no unit of work
open uses `authorize_now`, which opens one only to audit a refusal. Every license and subscription
use case goes through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.audit import AuditEntry, AuditResult
from domain.errors import DomainError, NotAuthorized, UnknownRequester
from domain.model import AdminRole, Permission, User
from domain.ports import Clock, TenantDirectory, UnitOfWork, UnitOfWorkFactory
from domain.rules import require

__all__ = ["AUDITED_TARGETS", "Asker", "Authorization", "Requester", "audit_target"]

AUDITED_TARGETS = 50
"""Users named in one audit entry's target; the rest are counted."""


@dataclass(frozen=True, slots=True)
class Requester:
    user: User
    roles: frozenset[AdminRole]

    @property
    def name(self) -> str:
        return self.user.user_principal_name


@dataclass(frozen=True, slots=True)
class Asker:
    """Who sends a request, as the tenant directory knows them: read before any unit of work opens
    (`Authorization.identify`), then authorized inside one without another directory call."""

    email: str
    requester: Requester | None
    """None: the address matches no user of the tenant."""


def audit_target(keys: Sequence[str]) -> str:
    """Who a request is for, as asked (emails, user principal names, `has:E3`), for the audit."""
    shown = ", ".join(keys[:AUDITED_TARGETS])
    more = len(keys) - AUDITED_TARGETS
    return f"{shown} and {more} more" if more > 0 else shown


class Authorization:
    """R16 for every use case: who asks, what their roles allow, and the refusals audited (R20)."""

    def __init__(self, uow: UnitOfWorkFactory, directory: TenantDirectory, clock: Clock) -> None:
        self._uow = uow
        self._directory = directory
        self._clock = clock

    def identify(self, email: str) -> Asker:
        """Who asks, read from the tenant directory: call it before opening a unit of work."""
        user = self._directory.user(email)
        if user is None:
            return Asker(email, None)
        return Asker(email, Requester(user, self._directory.admin_roles(user.id)))

    def authorize(
        self,
        uow: UnitOfWork,
        asker: Asker,
        permission: Permission,
        action: str,
        correlation_id: str = "",
        *,
        target: str = "",
        change_set_id: str = "",
    ) -> Requester:
        """R16, with the refusal audited in its own commit before it is raised: who asked, what,
        and for whom (`target`: the users as asked for; `change_set_id`: the change acted on)."""
        try:
            if asker.requester is None:
                raise UnknownRequester(asker.email)
            require(asker.requester.roles, permission, asker.requester.user.display_name)
        except (NotAuthorized, UnknownRequester) as refusal:
            self.audit_refusal(
                uow, asker.email, action, refusal, correlation_id, target=target, change_set_id=change_set_id
            )
            raise
        return asker.requester

    def authorize_now(
        self,
        email: str,
        permission: Permission,
        action: str,
        correlation_id: str = "",
        *,
        target: str = "",
        change_set_id: str = "",
    ) -> Requester:
        """`identify` then `authorize`, for a service that has no unit of work open: one is opened
        only to audit a refusal."""
        asker = self.identify(email)
        if asker.requester is not None and asker.requester.roles & permission.roles:
            return asker.requester
        with self._uow() as uow:
            return self.authorize(
                uow, asker, permission, action, correlation_id, target=target, change_set_id=change_set_id
            )

    def audit_refusal(
        self,
        uow: UnitOfWork,
        email: str,
        action: str,
        refusal: DomainError,
        correlation_id: str,
        *,
        target: str = "",
        change_set_id: str = "",
    ) -> None:
        """Record a refusal in its own commit, so raising it afterwards does not roll it back (R20):
        who asked, what, and for whom or what (`target`)."""
        uow.rollback()
        uow.audit.record(
            AuditEntry(
                at=self._clock.now(),
                actor=email,
                action=action[:200],
                result=AuditResult.REFUSED,
                target=target,
                reason=refusal.message,
                correlation_id=correlation_id,
                change_set_id=change_set_id,
            )
        )
        uow.commit()

    def refuse(self, who: str, action: str, refusal: DomainError, correlation_id: str) -> None:
        """Audit a refusal made before any tenant lookup, in its own unit of work (R24: a Slack
        account that may not act for anyone; R20)."""
        with self._uow() as uow:
            self.audit_refusal(uow, who, action, refusal, correlation_id)

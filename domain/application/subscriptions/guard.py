"""Who may act on subscription workflows (R16), and every refusal audited (R20), through `Authorization`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from domain.application.authorization import Authorization, Requester
from domain.errors import DomainError
from domain.model import Permission
from domain.ports import UnitOfWork, UnitOfWorkFactory

__all__ = ["SubscriptionGuard"]


class SubscriptionGuard:
    """Authorizes the subscription commands and audits their refusals, as the license use cases do theirs."""

    def __init__(self, uow: UnitOfWorkFactory, authorization: Authorization) -> None:
        self._uow = uow
        self._authorization = authorization

    def authorize(self, email: str, action: str, correlation_id: str, *, target: str = "") -> Requester:
        return self._authorization.authorize_now(
            email, Permission.MANAGE_SUBSCRIPTIONS, action, correlation_id, target=target
        )

    @contextmanager
    def refusals_audited(
        self, email: str, action: str, correlation_id: str, *, target: str = ""
    ) -> Iterator[None]:
        """A rule's refusal inside the block (which has no unit of work open) is audited in one of
        its own (R20), then raised."""
        try:
            yield
        except DomainError as refusal:
            with self._uow() as uow:
                self.refuse(uow, email, action, refusal, correlation_id, target=target)
            raise

    def refuse(
        self,
        uow: UnitOfWork,
        email: str,
        action: str,
        refusal: DomainError,
        correlation_id: str,
        *,
        target: str = "",
    ) -> None:
        """R20, as for every refusal: `target` is the product, subscription, users or workflow."""
        self._authorization.audit_refusal(uow, email, action, refusal, correlation_id, target=target)

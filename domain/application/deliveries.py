"""Slack redelivery keys: a request Slack sends again (a retry) is recognised and does nothing.

The key is claimed in the database, so a retry is recognised whichever replica it reaches.
"""

from __future__ import annotations

from domain.ports import Clock, UnitOfWorkFactory

__all__ = ["Deliveries"]


class Deliveries:
    """Claims the delivery key of each request once (`handlers.requests`, the renewal buttons)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def first_delivery(self, key: str) -> bool:
        """True the first time a request with this key arrives; False for a redelivery of it
        (a Slack retry), which must then do nothing. Claimed in the database, so it holds
        whichever replica the retry reaches."""
        with self._uow() as uow:
            claimed = uow.keys.claim(key, self._clock.now())
            uow.commit()
        return claimed

"""The rule for the whole codebase: no remote call while a database transaction is open.

A unit of work holds only the bot's own state. On SQLite every transaction starts with
`BEGIN IMMEDIATE`, the whole database's write lock, and on PostgreSQL a row lock stays held until the
transaction ends: a Graph write that waits for Retry-After inside one would lock every other admin
out. So the unit of work marks the thread while it is open (`opened`/`closed`), and every adapter
that reaches another system — the tenant directory, commerce, Slack — calls `forbid_remote_call`
first, which raises `RemoteCallInTransaction` (a programming error, never an admin's) when the mark
is set.
"""

from __future__ import annotations

import threading

__all__ = ["RemoteCallInTransaction", "closed", "forbid_remote_call", "open_transactions", "opened"]

_state = threading.local()


class RemoteCallInTransaction(RuntimeError):
    """A remote call was made while this thread had a database transaction open."""


def open_transactions() -> int:
    """How many units of work this thread has open (nested ones are allowed; each is counted)."""
    return int(getattr(_state, "depth", 0))


def opened() -> None:
    _state.depth = open_transactions() + 1


def closed() -> None:
    _state.depth = max(0, open_transactions() - 1)


def forbid_remote_call(what: str) -> None:
    """Raise when this thread has a unit of work open: `what` names the remote call."""
    if open_transactions():
        raise RemoteCallInTransaction(
            f"{what} was called while a database transaction is open: read or write the tenant "
            "before or after the unit of work, never inside it (DESIGN.md §5)."
        )

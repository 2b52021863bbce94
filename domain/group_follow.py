"""Following a group's license processing (R21), as the bot records it.

After a confirmed change to a group's own license, Microsoft 365 licenses each member in the
background. The follow is a row of the bot's state, so a restart or a crash loses nothing: whichever
process ticks next reads the group (at most once per poll interval, whatever the number of
processes), updates the change's message in place and records what it showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["FollowState", "GroupFollow", "group_poll_lease"]


class FollowState(StrEnum):
    FOLLOWING = "following"
    COMPLETE = "complete"
    """Microsoft 365 said processing is complete, and the message says so."""
    ENDED = "ended"
    """The follow window ran out before processing completed; the message says so."""


@dataclass(slots=True)
class GroupFollow:
    """One confirmed group change whose processing is followed, and where its message is."""

    change_set_id: str
    group_id: str
    channel: str
    message_ts: str
    started_at: datetime
    slow_after: datetime
    """From then on, still processing is said to be slow, with what to check."""
    deadline: datetime
    """The end of the follow window: past it, the message stops following and says so."""
    state: FollowState = FollowState.FOLLOWING
    shown: str = ""
    """What the message shows now (a key): the message is updated only when this changes."""
    polled_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.change_set_id

    @property
    def following(self) -> bool:
        return self.state is FollowState.FOLLOWING


def group_poll_lease(group_id: str) -> str:
    """The lease a process takes to read this group: one read per poll interval, across processes."""
    return f"group-poll:{group_id}"

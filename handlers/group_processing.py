"""A followed group change's message (R21), as `domain.application.group_follows` asks for it.

The message of a confirmed group change is updated in place: "processing…", then, once Microsoft
365 says processing is complete and only then, the members left in an error state with the reason
and fix of each (in a CSV in the thread when they are many); still processing after a while, it says
it is slow and what to check; past the follow window, it says it stops following and where to look.
Called by whichever process follows the group (the scheduler), never inside a transaction.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.application.group_follows import GroupProgress
from domain.changes import ChangeSet
from domain.group_follow import GroupFollow
from domain.transactions import forbid_remote_call
from handlers.blocks import group_processing, member_errors, result_buttons, result_note
from handlers.blocks.groups import SHOWN_MEMBER_ERRORS
from handlers.exports import member_errors_csv
from handlers.message_updates import MessageUpdates

__all__ = ["show_group_progress"]

log = logging.getLogger(__name__)


def show_group_progress(
    client: WebClient,
    updates: MessageUpdates,
    follow: GroupFollow,
    change_set: ChangeSet,
    progress: GroupProgress,
) -> bool:
    """Update the change's message in place; False when Slack refused (shown again next time)."""
    forbid_remote_call("Slack (chat.update)")
    group = progress.group
    errors = (
        member_errors(group.id, progress.in_error, progress.products, group.display_name)
        if progress.complete and group is not None
        else []
    )
    many = len(errors) > SHOWN_MEMBER_ERRORS
    shown = group_processing(
        change_set,
        progress.state,
        errors,
        buttons=result_buttons(change_set),
        note=result_note(change_set),
        stalled=progress.slow,
        ended=progress.ended,
        csv_in_thread=many,
    )
    try:
        updates.update(client, follow.channel, follow.message_ts, shown)
        if many:
            client.files_upload_v2(
                channel=follow.channel,
                thread_ts=follow.message_ts,
                filename=f"group-errors-{change_set.id[:8]}.csv",
                title=f"group-errors-{change_set.id[:8]}.csv",
                content=member_errors_csv(errors),
                initial_comment="Every member left in an error state, with the reason and the fix.",
            )
    except SlackApiError as error:
        log.warning("could not update a group's message", extra={"error": str(error.response.get("error"))})
        return False
    return True

"""What a person is told about their Microsoft sign-in (R24, `ADMIN_BINDING=entra`)."""

from __future__ import annotations

from handlers.blocks.message import Message, message, section
from handlers.blocks.text import escape

__all__ = ["sign_in_failed", "signed_in", "signed_out"]


def signed_in(upn: str) -> Message:
    """A direct message once Microsoft confirmed who signed in."""
    text = (
        f"You are signed in with Microsoft as {escape(upn)}. From now on licensebot acts for that "
        "Microsoft 365 user when you use it from this Slack account, whatever your Slack profile "
        "says. Run your command again. (`/license signout` undoes it.)"
    )
    return message(text, [section(f":white_check_mark: {text}")])


def sign_in_failed(why: str) -> Message:
    """A direct message when a sign-in ended without saying who signed in."""
    text = escape(why)
    return message(text, [section(f":no_entry: {text}")])


def signed_out(upn: str | None) -> Message:
    """`/license signout`: what was forgotten."""
    if upn is None:
        text = "You were not signed in with Microsoft from this Slack account: nothing to forget."
    else:
        text = (
            f"Signed out: licensebot no longer acts for {escape(upn)} from this Slack account. "
            "Your next change asks you to sign in with Microsoft again."
        )
    return message(text, [section(f":wave: {text}")])

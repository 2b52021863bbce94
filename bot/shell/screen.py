"""What the person at the shell sees: the bot's messages, files and forms printed as text, and the
buttons and form on screen.

Slack shows a message in its latest state only, so while a request is worked on each message it
touches is held and printed once, in its final state; the states it went through are a line each
(on a terminal one line rewritten in place).
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from typing import Any, TextIO

from bot.local_slack import (
    EventKind,
    LocalSlack,
    Message,
    RenderedMessage,
    SlackEvent,
    UploadedFile,
    View,
    mrkdwn_to_text,
    render_blocks,
)
from bot.shell.form_filling import Form

__all__ = ["Pressable", "Screen"]


@dataclass
class Pressable:
    action_id: str
    block_id: str | None
    channel: str | None
    message_ts: str | None
    view_id: str | None
    label: str


class Screen:
    """The console's output: what the local Slack shows the person at it."""

    def __init__(self, slack: LocalSlack, out: TextIO, *, live: bool, channel: str, user_id: str) -> None:
        """`live`: show a message's passing states on one line rewritten in place (a terminal)."""
        self._slack = slack
        self._out = out
        self._live = live
        self._channel = channel
        self.user_id = user_id
        """Whose screen this is: the Slack user the console acts as (`:as` changes it)."""
        self.buttons: list[Pressable] = []
        """The buttons of the last message shown with buttons, pressed by their number."""
        self.form: Form | None = None
        """The form open on screen, if any."""
        self._print_lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[str, Message]] | None = None
        """While a request is worked on, the latest state of each message it posted or updated."""
        self._held_files: list[UploadedFile] = []
        """Files attached while a request is worked on: shown after the message they belong to."""
        self._live_line = False
        """Whether the last thing printed is a progress line that the next print overwrites."""
        self._last_printed = ""

    def hold(self) -> None:
        with self._print_lock:
            self._held = {}
            self._held_files = []

    def release(self) -> None:
        """Print each message a request touched once, in its final state (Slack shows no history),
        each followed by the files attached in its thread."""
        with self._print_lock:
            held, self._held = self._held or {}, None
            files, self._held_files = self._held_files, []
        for header, message in held.values():
            self._show_message(header, message)
            for upload in [f for f in files if f.thread_ts == message.ts]:
                files.remove(upload)
                self._show_file(upload)
        for upload in files:
            self._show_file(upload)

    def show(self, event: SlackEvent) -> None:
        subject = event.subject
        if isinstance(subject, Message):
            if not self._for_me(subject):
                return
            header = {
                "ephemeral": "licensebot (only visible to you)",
                "posted": "licensebot",
                "updated": "licensebot (updated)",
            }.get(event.kind)
            if header is None:
                return
            if subject.thread_ts and subject.thread_ts != subject.ts:
                header += " (in the thread)"
            with self._print_lock:
                if self._held is not None:
                    key = (subject.channel, subject.ts)
                    earlier = self._held.get(key)
                    self._held[key] = (earlier[0] if earlier else header, subject)
                    if self._live:
                        self._print_live(self._passing_state(subject))
                    elif earlier is not None:  # replaced before anyone saw it: one line for it
                        self._print_passing(self._passing_state(earlier[1]))
                    return
            self._show_message(header, subject)
        elif isinstance(subject, UploadedFile):
            with self._print_lock:
                if self._held is not None:
                    self._held_files.append(subject)
                    return
            self._show_file(subject)
        elif isinstance(subject, View) and subject.user_id == self.user_id:
            self._show_view(event.kind, subject)

    def say(self, text: str) -> None:
        with self._print_lock:
            self._print(text)

    def _show_message(self, header: str, message: Message) -> None:
        self._render(header, list(message.blocks), message.text, channel=message.channel, ts=message.ts)

    def _show_view(self, kind: str, view: View) -> None:
        if kind == EventKind.VIEW_CLOSED:
            if self.form is not None and self.form.view.id == view.id:
                self.form = None
            return
        if kind == EventKind.HOME_PUBLISHED:
            self._render("licensebot [App Home]", view.blocks, "", view_id=view.id)
            return
        if kind not in {EventKind.VIEW_OPENED, EventKind.VIEW_PUSHED, EventKind.VIEW_UPDATED}:
            return
        previous = self.form if self.form is not None and self.form.view.id == view.id else None
        self.form = Form.of(view, previous)
        self._render(f"licensebot [form: {view.title}]", view.blocks, "", view_id=view.id)
        if self.form.fields:
            self.say("(fill it in with :set FIELD VALUE, see it with :form, send it with :submit)")

    def _show_file(self, upload: UploadedFile) -> None:
        if upload.channel != self._channel and not (upload.channel or "").startswith("D"):
            return
        lines = upload.content.decode(errors="replace").splitlines()
        shown = "\n".join(f"  {line}" for line in lines[:4])
        more = f"\n  … {len(lines) - 4:,} more lines" if len(lines) > 4 else ""
        self.say(
            f"── licensebot attached {upload.name} in the thread ({len(lines) - 1:,} rows) ──\n{shown}{more}"
        )

    def _for_me(self, message: Message) -> bool:
        if message.ephemeral:
            return message.recipient == self.user_id
        return message.channel.startswith("D") or message.channel == self._channel

    def _render(
        self,
        header: str,
        blocks: list[dict[str, Any]],
        text: str,
        *,
        channel: str | None = None,
        ts: str | None = None,
        view_id: str | None = None,
    ) -> None:
        rendered = self._rendered(blocks, text)
        buttons = [e for e in rendered.elements if e.type == "button"]
        if buttons:
            self.buttons = [
                Pressable(e.action_id or "", e.block_id, channel, ts, view_id, e.label) for e in buttons
            ]
        elif self.buttons and (self.buttons[0].message_ts, self.buttons[0].view_id) == (ts, view_id):
            self.buttons = []  # the message that carried them was replaced by one without buttons
        self.say(f"── {header} ──\n{rendered.text.rstrip()}")

    def _passing_state(self, message: Message) -> str:
        """A state of a message that the next one replaces, on one line: its notification text."""
        text = mrkdwn_to_text(
            message.text, resolve_user=self._slack.display_name, resolve_channel=self._slack.channel_name
        )
        if not text.strip():
            text = self._rendered(list(message.blocks), "").text.strip().partition("\n")[0]
        return f"── licensebot (updating) ── {' '.join(text.split())}"

    def _print(self, text: str) -> None:
        """Print a line (the print lock held), over the progress line a terminal shows."""
        if self._live_line:
            self._out.write("\r\033[K")
            self._live_line = False
        print(text, file=self._out, flush=True)
        self._last_printed = text

    def _print_passing(self, line: str) -> None:
        """A passing state (the print lock held); an update that changed nothing shown says nothing."""
        if line != self._last_printed:
            self._print(line)

    def _print_live(self, line: str) -> None:
        """Show a progress line in place of the previous one (the print lock held)."""
        width = shutil.get_terminal_size().columns - 1
        shown = line if len(line) <= width else line[: width - 1] + "…"
        self._out.write(f"\r\033[K{shown}")
        self._out.flush()
        self._live_line = True

    def _rendered(self, blocks: list[dict[str, Any]], text: str) -> RenderedMessage:
        return render_blocks(
            blocks, text, resolve_user=self._slack.display_name, resolve_channel=self._slack.channel_name
        )

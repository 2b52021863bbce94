"""`licensebot shell`: a local chat console that drives the real bot, like Errbot's text backend.

What you type becomes the request Slack would send (a signed slash command, a signed button press,
a form submission, App Home being opened) and goes through the same Bolt app and listeners as in
production; the bot's replies land in a local fake of the Slack Web API (`bot.local_slack`) and are
printed as readable text. Buttons are pressed by typing their number; a form is filled in with
`:set FIELD VALUE` and sent with `:submit` (`bot.shell_forms`). Lines are read from standard input
when it is not a terminal, so sessions can be scripted.

Slack shows a message in its latest state only, so each message a request touches is printed in
full once, in its final state. The states it went through on the way (a change's progress, updated
in place per batch) are shown as one line each: on a terminal a single line rewritten in place as
they happen, otherwise a line per state, printed as the next one replaces it.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.app import LISTENER_THREADS, create_app
from bot.bootstrap import Container, bootstrap
from bot.clock import MovableClock
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
    signed_headers,
)
from bot.settings import Settings, TenantBackend
from bot.shell_demo import DEMO_USERGROUPS, STAFF_GROUP, add_staff
from bot.shell_forms import Form
from bot.sign_in import SignInPoller
from domain.application.group_follows import GroupFollows
from handlers.message_updates import MessageUpdates

MAX_CLOCK_DAYS = 3650
"""How far `:tick +DAYS` moves the clock at once."""

__all__ = ["Console", "TrackingExecutor", "run_shell"]

WAIT_SECONDS = 120.0
_MENTION = re.compile(r"(?<![<\w])@([A-Za-z0-9._-]+)")
_EMAIL = re.compile(r"(?<![<|:\w])([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")

HELP = """\
Type what you would type in Slack, for example:
  /license help
  /license show @alice
  /license replace @alice E5        (then type the number of the Confirm button)
  /license                          (a form: fill it in with :set, send it with :submit)
  /license services @carol E3       (a form with a checkbox per service)
  /license replace @sales-team E5   (a Slack user group: alice, bob, dave, erin, frank, heidi)
  /subscription list
Mentions: @alice stands for the tenant user alice@<tenant domain>, @sales-team for the Slack
  user group of that name. Emails work as typed.
Forms: :set FIELD VALUE fills a field, by number or label: :set users @alice @bob,
  :set product E5, :set what replace, :set services -Sway, +Microsoft Teams (or all / none);
  :form shows what the form holds, :submit sends it, :close closes it.
Bulk changes: :add-users 60 adds 60 people holding Office 365 E3 to the simulated tenant, in the
  user group @staff; then /license replace @staff E5 (or has:E3) shows the CSV and the progress.
Console commands: :tick (poll now, as the scheduler does, and follow the groups being processed;
  :tick +14 moves the clock 14 days on first), :home (open App Home),
  :as EMAIL (act as another admin), :add-users N, :help, :quit"""


class TrackingExecutor(ThreadPoolExecutor):
    """A thread pool that can tell when every listener it ran has finished."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers, thread_name_prefix="shell-listener")
        self._busy = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._busy += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


@dataclass
class _Pressable:
    action_id: str
    block_id: str | None
    channel: str | None
    message_ts: str | None
    view_id: str | None
    label: str


class Console:
    """One person at a local Slack workspace, talking to the bot."""

    def __init__(self, container: Container, as_user: str, out: TextIO, *, live: bool = False) -> None:
        """`live`: show a message's passing states on one line rewritten in place (a terminal)."""
        self._container = container
        self._out = out
        self._live = live
        self._secret = secrets.token_hex(16)
        self._slack = LocalSlack().start()
        self._executor = TrackingExecutor(LISTENER_THREADS)
        # Every batch of a change gets its progress update, and every change of a checklist its
        # update: the local Slack has no rate limit to respect, and the console shows each one
        # (Slack's pace is the listeners' own, tested there).
        unpaced = MessageUpdates(interval=0.0)
        services = container.services
        # A group being processed may be read every second: `:tick` shows it move (R21).
        self._follows = GroupFollows(
            container.uow,
            container.directory,
            container.clock,
            container.notifier,
            owner=container.services.licenses.changes.process,
            poll_interval=timedelta(seconds=1),
        )
        services = replace(
            services,
            timing=replace(services.timing, progress_interval=0.0),
            message_updates=unpaced,
            group_follows=self._follows,
        )
        self._app: App = create_app(
            bot_token=self._slack.bot_token,
            signing_secret=self._secret,
            services=services,
            base_url=self._slack.api_url,
            listener_executor=self._executor,
        )
        self._domains = self._tenant_domains()
        self._slack_ids: dict[str, str] = {}
        self._user_id = self._slack_user(as_user)
        self._channel = self._slack.add_channel("licensing", members=[self._user_id])
        self._buttons: list[_Pressable] = []
        self._form: Form | None = None
        # Applies a submission's `response_action: update` to the form, as Slack itself would.
        self._slack_itself = WebClient(token=self._slack.bot_token, base_url=self._slack.api_url)
        # Workflow checklists, approval requests and reminders go to this local workspace.
        container.notifier.connect(self._slack_itself, unpaced)
        container.notifier.remind_in(self._channel)
        self._print_lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[str, Message]] | None = None
        """While a request is worked on, the latest state of each message it posted or updated."""
        self._held_files: list[UploadedFile] = []
        """Files attached while a request is worked on: shown after the message they belong to."""
        self._live_line = False
        """Whether the last thing printed is a progress line that the next print overwrites."""
        self._last_printed = ""
        self._slack.subscribe(self._show)
        if container.settings.tenant_backend is TenantBackend.SIMULATED:
            self._add_demo_usergroups()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._slack.stop()

    @property
    def slack(self) -> LocalSlack:
        return self._slack

    def handle(self, line: str) -> bool:
        """One line of input; False when the console should stop."""
        line = line.strip()
        if not line:
            return True
        if line in {":quit", ":q", ":exit", "exit", "quit"}:
            return False
        if line in {":help", "help", "?"}:
            self._say(HELP)
        elif line.startswith(":as "):
            self._user_id = self._slack_user(line[4:].strip())
            # Everyone the console has been stays in the one channel, so an approver sees the request.
            self._slack.add_channel(
                "licensing", members=list(self._slack_ids.values()), channel_id=self._channel
            )
            self._form = None
            self._say(f"You are now {line[4:].strip()}.")
        elif line == ":tick" or line.startswith(":tick "):
            self._tick(line[len(":tick") :].strip())
        elif line == ":home":
            self._dispatch(self._slack.app_home_opened_body(self._user_id))
        elif line.partition(" ")[0] == ":add-users":
            self._add_users(line.partition(" ")[2].strip())
        elif line.startswith(":set"):
            self._set(line[4:].strip())
        elif line == ":form":
            self._say(self._form_summary() if self._form else "No form is open; /license opens one.")
        elif line == ":submit":
            self._submit()
        elif line in {":close", ":cancel"}:
            self._close_form()
        elif line.isdigit():
            self._press(int(line))
        elif line.startswith("/"):
            command, _, text = line.partition(" ")
            self._command(command, text)
        else:
            self._say("Commands start with / (try /license help); :help shows what the console takes.")
        return True

    def _command(self, command: str, text: str) -> None:
        body = self._slack.slash_command_body(
            command, self._slackify(text), user_id=self._user_id, channel_id=self._channel
        )
        self._dispatch(body)

    def _press(self, number: int) -> None:
        if not 1 <= number <= len(self._buttons):
            self._say(f"There is no button {number} on the last message.")
            return
        button = self._buttons[number - 1]
        self._say(f"(you pressed {button.label})")
        try:
            body = self._slack.action_body(
                self._user_id,
                action_id=button.action_id,
                block_id=button.block_id,
                channel=button.channel,
                message_ts=button.message_ts,
                view_id=button.view_id,
            )
        except LookupError:
            self._say("That button is no longer there: the message has changed since.")
            return
        self._dispatch(body)

    def _dispatch(self, body: str, *, answer: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Send a signed request to the app; `answer` gets the JSON the app answered Slack with."""
        headers: dict[str, str | Sequence[str]] = dict(signed_headers(body, self._secret))
        self._hold()
        try:
            self._dispatch_held(body, headers, answer)
        finally:
            self._release()

    def _dispatch_held(
        self,
        body: str,
        headers: dict[str, str | Sequence[str]],
        answer: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        response = self._app.dispatch(BoltRequest(body=body, headers=headers))
        reply = response.body.strip() if response.body else ""
        if response.status != 200:
            self._say(f"(Slack would show an error: HTTP {response.status})")
        elif answer is not None:
            answer(json.loads(reply) if reply.startswith("{") else {})
        elif reply not in {"", "{}"}:
            self._say(reply)
        if not self._executor.wait_idle(WAIT_SECONDS):
            self._say(f"(still working after {WAIT_SECONDS:.0f} s; replies will appear when ready)")

    # -- forms ------------------------------------------------------------------------------

    def _set(self, text: str) -> None:
        form = self._form
        if form is None:
            self._say("No form is open; /license opens one.")
            return
        name, _, value = text.partition(" ")
        fields = form.named(name)
        if not name or not value.strip() or not fields:
            names = ", ".join(dict.fromkeys(f.label.split(" (")[0].lower() for f in form.fields))
            self._say(f"Use :set FIELD VALUE, with a field number or one of: {names}.")
            return
        try:
            form.choose(fields, value, self._person)
        except ValueError as problem:
            self._say(str(problem))
            return
        field = fields[0]
        if field.dispatches:  # Slack sends the choice at once; the app answers with a new form
            body = self._slack.action_body(
                self._user_id,
                action_id=field.action_id,
                block_id=field.block_id,
                view_id=form.view.id,
                selected=form.values[field.action_id],
            )
            self._dispatch(body)
        else:
            self._say(self._form_summary())

    def _submit(self) -> None:
        form = self._form
        if form is None:
            self._say("No form is open; /license opens one.")
            return
        body = self._slack.view_submission_body(self._user_id, form.view.id, form.values)
        self._dispatch(body, answer=lambda reply: self._answered(form, reply))

    def _answered(self, form: Form, reply: dict[str, Any]) -> None:
        """What Slack does with the app's answer to a submission."""
        action = reply.get("response_action")
        if action == "errors":
            labels = {f.block_id: f.label for f in form.fields}
            errors = reply.get("errors") or {}
            self._say(
                "The form says:\n" + "\n".join(f"  ✗ {labels.get(k, k)}: {v}" for k, v in errors.items())
            )
        elif action == "update" and isinstance(reply.get("view"), dict):
            self._slack_itself.views_update(view_id=form.view.id, view=reply["view"])
        else:  # no answer, or "clear": the form closes
            self._close_form(quiet=True)
            self._say("(form sent)")

    def _close_form(self, *, quiet: bool = False) -> None:
        if self._form is None:
            if not quiet:
                self._say("No form is open.")
            return
        view_id, self._form = self._form.view.id, None
        view = self._slack.view(view_id)
        if view is not None and not view.closed:
            self._slack.close_view(view_id, whole_stack=True)

    def _form_summary(self) -> str:
        form = self._form
        if form is None:
            return ""
        return "The form holds:\n" + form.summary(self._slack.display_name) + "\n(:submit sends it)"

    def _person(self, word: str) -> str | None:
        """A Slack user id for `@alice` or an email of the tenant."""
        if "@" in word.lstrip("@"):
            return self._slack_user(word)
        email = self._tenant_email(word.lstrip("@"))
        return self._slack_user(email) if email else None

    def _tick(self, move: str = "") -> None:
        """Poll now, as the scheduler does every POLL_INTERVAL_SECONDS; `+DAYS` moves the clock on
        first. Renewal alerts the poll finds come here, unless REMINDER_CHANNEL names another."""
        subscriptions = self._container.services.subscriptions
        if subscriptions is None:
            self._say("There are no subscription workflows to poll.")
            return
        if move:
            clock = self._container.clock
            days = move.removeprefix("+")
            if (
                not days.isdigit()
                or not 1 <= int(days) <= MAX_CLOCK_DAYS
                or not isinstance(clock, MovableClock)
            ):
                self._say(f"Use :tick +DAYS (1 to {MAX_CLOCK_DAYS}), for example :tick +14.")
                return
            now = clock.move_on(timedelta(days=int(days)))
            self._say(f"(the clock is now {now:%a %d %b %Y %H:%M} UTC)")
        self._hold()
        try:
            report = subscriptions.ticks.tick()
            followed = self._follows.tick()
        finally:
            self._release()
        moved = len(report.advanced) + len(report.resumed)
        groups = f", groups being processed read: {len(followed.polled)}" if followed.polled else ""
        self._say(f"(polled the tenant: {report.polled} waiting, {moved} moved on{groups})")

    def _add_demo_usergroups(self) -> None:
        for handle, names in DEMO_USERGROUPS.items():
            emails = [email for email in map(self._tenant_email, names) if email is not None]
            if emails:
                self._slack.add_usergroup(handle, [self._slack_user(email) for email in emails])

    def _add_users(self, count: str) -> None:
        if not count.isdigit():
            self._say("Use :add-users N, for example :add-users 60.")
            return
        try:
            added = add_staff(self._container, int(count))
        except ValueError as problem:
            self._say(str(problem))
            return
        members = [self._slack_user(email, real_name=name) for email, name in added]
        group = self._slack.usergroup(STAFF_GROUP)
        everyone = [*(group.users if group else ()), *members]
        self._slack.add_usergroup(STAFF_GROUP, everyone, usergroup_id=group.id if group else None)
        first, last = added[0][0], added[-1][0]
        span = first if len(added) == 1 else f"{first} … {last}"
        self._say(
            f"Added {len(added):,} people holding Office 365 E3 ({span}) and a subscription of "
            f"{len(added):,} Office 365 E3 seats for them to the simulated tenant. The Slack user group "
            f"@{STAFF_GROUP} has all {len(everyone):,}: /license replace @{STAFF_GROUP} E5 moves them once "
            f"Office 365 E5 has the seats (/subscription seats E5 +{len(everyone)}, as a Billing "
            "Administrator)."
        )

    def _hold(self) -> None:
        with self._print_lock:
            self._held = {}
            self._held_files = []

    def _release(self) -> None:
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

    def _show(self, event: SlackEvent) -> None:
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
        elif isinstance(subject, View) and subject.user_id == self._user_id:
            self._show_view(event.kind, subject)

    def _show_message(self, header: str, message: Message) -> None:
        self._render(header, list(message.blocks), message.text, channel=message.channel, ts=message.ts)

    def _show_view(self, kind: str, view: View) -> None:
        if kind == EventKind.VIEW_CLOSED:
            if self._form is not None and self._form.view.id == view.id:
                self._form = None
            return
        if kind == EventKind.HOME_PUBLISHED:
            self._render("licensebot [App Home]", view.blocks, "", view_id=view.id)
            return
        if kind not in {EventKind.VIEW_OPENED, EventKind.VIEW_PUSHED, EventKind.VIEW_UPDATED}:
            return
        previous = self._form if self._form is not None and self._form.view.id == view.id else None
        self._form = Form.of(view, previous)
        self._render(f"licensebot [form: {view.title}]", view.blocks, "", view_id=view.id)
        if self._form.fields:
            self._say("(fill it in with :set FIELD VALUE, see it with :form, send it with :submit)")

    def _show_file(self, upload: UploadedFile) -> None:
        if upload.channel != self._channel and not (upload.channel or "").startswith("D"):
            return
        lines = upload.content.decode(errors="replace").splitlines()
        shown = "\n".join(f"  {line}" for line in lines[:4])
        more = f"\n  … {len(lines) - 4:,} more lines" if len(lines) > 4 else ""
        self._say(
            f"── licensebot attached {upload.name} in the thread ({len(lines) - 1:,} rows) ──\n{shown}{more}"
        )

    def _for_me(self, message: Message) -> bool:
        if message.ephemeral:
            return message.recipient == self._user_id
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
            self._buttons = [
                _Pressable(e.action_id or "", e.block_id, channel, ts, view_id, e.label) for e in buttons
            ]
        elif self._buttons and (self._buttons[0].message_ts, self._buttons[0].view_id) == (ts, view_id):
            self._buttons = []  # the message that carried them was replaced by one without buttons
        self._say(f"── {header} ──\n{rendered.text.rstrip()}")

    def _passing_state(self, message: Message) -> str:
        """A state of a message that the next one replaces, on one line: its notification text."""
        text = mrkdwn_to_text(
            message.text, resolve_user=self._slack.display_name, resolve_channel=self._slack.channel_name
        )
        if not text.strip():
            text = self._rendered(list(message.blocks), "").text.strip().partition("\n")[0]
        return f"── licensebot (updating) ── {' '.join(text.split())}"

    def _say(self, text: str) -> None:
        with self._print_lock:
            self._print(text)

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

    def _tenant_domains(self) -> list[str]:
        organization = self._container.directory.organization()
        preferred = organization.default_domain
        return [preferred, *sorted(d for d in organization.verified_domains if d != preferred)]

    def _slack_user(self, email: str, *, real_name: str | None = None) -> str:
        email = email.strip().lower()
        if email not in self._slack_ids:
            name = email.partition("@")[0]
            self._slack_ids[email] = self._slack.add_user(
                name, real_name=real_name or name.title(), email=email
            )
        return self._slack_ids[email]

    def _slackify(self, text: str) -> str:
        """What the Slack client does to a typed message: mentions and emails become links."""

        def mention(match: re.Match[str]) -> str:
            name = match.group(1)
            email = self._tenant_email(name)
            if email is not None:
                return f"<@{self._slack_user(email)}|{name}>"
            group = self._slack.usergroup(name)
            if group is not None:
                return f"<!subteam^{group.id}|@{group.handle}>"
            return match.group(0)

        text = _EMAIL.sub(lambda m: f"<mailto:{m.group(1)}|{m.group(1)}>", text)
        return _MENTION.sub(mention, text)

    def _tenant_email(self, name: str) -> str | None:
        for domain in self._domains:
            user = self._container.directory.user(f"{name}@{domain}")
            if user is not None:
                return user.mail or user.user_principal_name
        return None


def _demo_settings(settings: Settings) -> Settings:
    folder = Path(tempfile.mkdtemp(prefix="licensebot-demo-"))
    return settings.model_copy(
        update={
            "database_url": f"sqlite:///{folder / 'demo.db'}",
            "tenant_backend": TenantBackend.SIMULATED,
            # The demo's card purchases are active at once, not a minute later.
            "sim_activation_seconds": 0.0,
        }
    )


def run_shell(
    settings: Settings,
    *,
    demo: bool,
    as_user: str,
    lines: Iterable[str] | None = None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
    if demo:
        settings = _demo_settings(settings)
    container = bootstrap(settings, clock=MovableClock())
    interactive = lines is None and sys.stdin.isatty()
    console = Console(container, as_user, out, live=interactive and out.isatty())
    # ADMIN_BINDING=entra: device-code sign-ins complete while the shell runs.
    poller = (
        SignInPoller(container.sign_in, settings.sign_in_poll_seconds).start()
        if container.sign_in is not None
        else None
    )
    try:
        if interactive:
            print(f"licensebot shell: you are {as_user}. {HELP}", file=out)
        source = lines if lines is not None else _read(interactive)
        for line in source:
            if not interactive and line.strip():
                print(f"> {line.strip()}", file=out, flush=True)
            if not console.handle(line):
                break
    finally:
        if poller is not None:
            poller.stop()
        console.close()
        container.engine.dispose()
    return 0


def _read(interactive: bool) -> Iterable[str]:
    if not interactive:
        yield from sys.stdin
        return
    while True:
        try:
            yield input("you> ")
        except EOFError:
            print()
            return

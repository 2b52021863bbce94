"""The console: each typed line becomes the request Slack would send (a signed slash command, a
button press, a form's choice or submission, App Home being opened), dispatched to the real Bolt
app; console commands (`:as`, `:tick`, `:add-users`, `:set` …) act on the local workspace."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any, TextIO

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.app import LISTENER_THREADS, create_app
from bot.bootstrap import Container
from bot.local_slack import LocalSlack, signed_headers
from bot.settings import TenantBackend
from bot.shell.console_commands import HELP, add_users, tick
from bot.shell.demo_tenant import add_demo_usergroups
from bot.shell.form_filling import Form
from bot.shell.people import LocalPeople
from bot.shell.screen import Screen
from domain.application.group_follows import GroupFollows
from handlers.message_updates import MessageUpdates

__all__ = ["WAIT_SECONDS", "Console", "TrackingExecutor"]

WAIT_SECONDS = 120.0


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


class Console:
    """One person at a local Slack workspace, talking to the bot."""

    def __init__(self, container: Container, as_user: str, out: TextIO, *, live: bool = False) -> None:
        """`live`: show a message's passing states on one line rewritten in place (a terminal)."""
        self._container = container
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
        self._people = LocalPeople(self._slack, container.directory)
        user_id = self._people.slack_user(as_user)
        self._channel = self._slack.add_channel("licensing", members=[user_id])
        # Applies a submission's `response_action: update` to the form, as Slack itself would.
        self._slack_itself = WebClient(token=self._slack.bot_token, base_url=self._slack.api_url)
        # Workflow checklists, approval requests and reminders go to this local workspace.
        container.notifier.connect(self._slack_itself, unpaced)
        container.notifier.remind_in(self._channel)
        self._screen = Screen(self._slack, out, live=live, channel=self._channel, user_id=user_id)
        self._slack.subscribe(self._screen.show)
        if container.settings.tenant_backend is TenantBackend.SIMULATED:
            add_demo_usergroups(self._slack, self._people)

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
            self._screen.user_id = self._people.slack_user(line[4:].strip())
            # Everyone the console has been stays in the one channel, so an approver sees the request.
            self._slack.add_channel(
                "licensing", members=self._people.slack_user_ids(), channel_id=self._channel
            )
            self._screen.form = None
            self._say(f"You are now {line[4:].strip()}.")
        elif line == ":tick" or line.startswith(":tick "):
            tick(self._container, self._follows, self._screen, line[len(":tick") :].strip())
        elif line == ":home":
            self._dispatch(self._slack.app_home_opened_body(self._screen.user_id))
        elif line.partition(" ")[0] == ":add-users":
            add_users(
                self._container, self._slack, self._people, self._screen, line.partition(" ")[2].strip()
            )
        elif line.startswith(":set"):
            self._set(line[4:].strip())
        elif line == ":form":
            self._say(self._form_summary() if self._screen.form else "No form is open; /license opens one.")
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

    def _say(self, text: str) -> None:
        self._screen.say(text)

    def _command(self, command: str, text: str) -> None:
        body = self._slack.slash_command_body(
            command, self._people.slackify(text), user_id=self._screen.user_id, channel_id=self._channel
        )
        self._dispatch(body)

    def _press(self, number: int) -> None:
        buttons = self._screen.buttons
        if not 1 <= number <= len(buttons):
            self._say(f"There is no button {number} on the last message.")
            return
        button = buttons[number - 1]
        self._say(f"(you pressed {button.label})")
        try:
            body = self._slack.action_body(
                self._screen.user_id,
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
        self._screen.hold()
        try:
            self._dispatch_held(body, headers, answer)
        finally:
            self._screen.release()

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
        form = self._screen.form
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
            form.choose(fields, value, self._people.person)
        except ValueError as problem:
            self._say(str(problem))
            return
        field = fields[0]
        if field.dispatches:  # Slack sends the choice at once; the app answers with a new form
            body = self._slack.action_body(
                self._screen.user_id,
                action_id=field.action_id,
                block_id=field.block_id,
                view_id=form.view.id,
                selected=form.values[field.action_id],
            )
            self._dispatch(body)
        else:
            self._say(self._form_summary())

    def _submit(self) -> None:
        form = self._screen.form
        if form is None:
            self._say("No form is open; /license opens one.")
            return
        body = self._slack.view_submission_body(self._screen.user_id, form.view.id, form.values)
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
        if self._screen.form is None:
            if not quiet:
                self._say("No form is open.")
            return
        view_id, self._screen.form = self._screen.form.view.id, None
        view = self._slack.view(view_id)
        if view is not None and not view.closed:
            self._slack.close_view(view_id, whole_stack=True)

    def _form_summary(self) -> str:
        form = self._screen.form
        if form is None:
            return ""
        return "The form holds:\n" + form.summary(self._slack.display_name) + "\n(:submit sends it)"

"""A local fake of the Slack Web API: an in-memory workspace served over real HTTP.

Point ``slack_sdk.WebClient(base_url=local.api_url)`` (or Bolt's ``App(client=...)``) at it and the
bot talks to it as it would to Slack: same methods, same response shapes, same error codes (HTTP
200 with ``ok: false``), HTTP 429 with ``Retry-After`` when rate limited, trigger ids that expire
after 3 seconds, response URLs that take 5 posts in 30 minutes, the upload flow of
``files_upload_v2``. Everything the bot does is recorded for assertions and announced to
subscribers (the local chat shell prints from there). ``apps.connections.open`` (with the app-level
token) opens Socket Mode: tests then deliver envelopes over a WebSocket and read the acks.

``LocalSlack`` is the front: it composes the workspace's state (``workspace_state``), the HTTP
server (``http_server``), the Web API methods (``*_api``, checked by ``block_kit``), the inbound
payload builders (``inbound_payloads``) and Socket Mode (``socket_mode``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from bot.local_slack import inbound_payloads, signing, socket_mode
from bot.local_slack.http_server import HttpServer
from bot.local_slack.records import (
    Call,
    Channel,
    EventKind,
    Message,
    Subscriber,
    UploadedFile,
    User,
    Usergroup,
    View,
)
from bot.local_slack.web_api import BOT_SCOPES
from bot.local_slack.workspace_state import Failure, WorkspaceState

__all__ = ["LocalSlack"]

T = TypeVar("T")


class LocalSlack:
    """An in-memory Slack workspace with its Web API served on 127.0.0.1.

    Thread-safe: the HTTP server answers on its own threads while tests and the shell query.
    ``clock`` (seconds since the epoch) drives message timestamps, trigger expiry and response
    URL expiry, so tests move time instead of sleeping.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-local-bot-token",  # noqa: S107 - a fake token for a fake server
        app_token: str = "xapp-1-local-app-token",  # noqa: S107 - a fake token for a fake server
        team_id: str = signing.DEFAULT_TEAM_ID,
        team_domain: str = signing.DEFAULT_TEAM_DOMAIN,
        team_name: str = "Local workspace",
        app_id: str = signing.DEFAULT_APP_ID,
        bot_id: str = "B0LOCALBOT",
        bot_user_id: str = "U0LOCALBOT",
        bot_name: str = "licensebot",
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        scopes: Sequence[str] = BOT_SCOPES,
    ) -> None:
        self._state = WorkspaceState(
            bot_token=bot_token,
            app_token=app_token,
            team_id=team_id,
            team_domain=team_domain,
            team_name=team_name,
            app_id=app_id,
            bot_id=bot_id,
            bot_user_id=bot_user_id,
            bot_name=bot_name,
            clock=clock,
            host=host,
            scopes=scopes,
        )
        self._http = HttpServer(self._state, port)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        self._http.start()
        return self

    def stop(self) -> None:
        if not self._http.running:
            return
        self._http.stop()
        # Last, once nothing can call apps.connections.open: connected apps get a close frame.
        with self._state.lock:
            socket_server, self._state.socket_mode = self._state.socket_mode, None
        if socket_server is not None:
            socket_server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._state.base_url

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``WebClient``: it appends the method name."""
        return self.base_url + "api/"

    @property
    def team_id(self) -> str:
        return self._state.team_id

    @property
    def team_domain(self) -> str:
        return self._state.team_domain

    @property
    def team_name(self) -> str:
        return self._state.team_name

    @property
    def app_id(self) -> str:
        return self._state.app_id

    @property
    def bot_id(self) -> str:
        return self._state.bot_id

    @property
    def bot_user_id(self) -> str:
        return self._state.bot_user_id

    @property
    def bot_token(self) -> str:
        return self._state.bot_token

    @property
    def app_token(self) -> str:
        """The app-level token, for ``apps.connections.open`` (Socket Mode)."""
        return self._state.app_token

    # -- workspace setup --------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        is_admin: bool = False,
        user_id: str | None = None,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        is_app_user: bool = False,
        is_email_confirmed: bool = True,
        team_id: str | None = None,
        enterprise_id: str | None = None,
    ) -> str:
        """A person (or bot) of the workspace; ``team_id`` makes them another organization's member
        reaching it through a shared channel (Slack Connect)."""
        with self._state.lock:
            new_id = user_id or self._state.new_id("U")
            self._state.users[new_id] = User(
                id=new_id,
                name=name,
                real_name=real_name or name,
                display_name=display_name if display_name is not None else name,
                email=email,
                is_bot=is_bot,
                deleted=deleted,
                is_admin=is_admin,
                is_restricted=is_restricted,
                is_ultra_restricted=is_ultra_restricted,
                is_app_user=is_app_user,
                is_email_confirmed=is_email_confirmed,
                team_id=team_id,
                enterprise_id=enterprise_id,
            )
            return new_id

    def set_email(self, user_id: str, email: str | None) -> None:
        """Someone (a Slack admin, a provisioning service) changes the email of a user's profile."""
        with self._state.lock:
            self._state.users[user_id] = replace(self._state.require_user(user_id), email=email)

    def add_channel(
        self,
        name: str,
        *,
        members: Sequence[str] = (),
        bot_is_member: bool = True,
        is_private: bool = False,
        channel_id: str | None = None,
    ) -> str:
        with self._state.lock:
            new_id = channel_id or self._state.new_id("G" if is_private else "C")
            everyone = set(members) | ({self.bot_user_id} if bot_is_member else set())
            self._state.channels[new_id] = Channel(
                id=new_id, name=name, members=frozenset(everyone), is_private=is_private
            )
            return new_id

    def add_usergroup(
        self,
        handle: str,
        users: Sequence[str],
        *,
        name: str | None = None,
        usergroup_id: str | None = None,
    ) -> str:
        with self._state.lock:
            new_id = usergroup_id or self._state.new_id("S")
            self._state.usergroups[new_id] = Usergroup(new_id, handle, name or handle, tuple(users))
            return new_id

    def open_im(self, user_id: str) -> str:
        """The id of the bot's direct-message channel with ``user_id`` (opened if needed)."""
        with self._state.lock:
            return self._state.open_conversation([user_id])[0]

    def post_as_user(self, channel: str, user_id: str, text: str, *, thread_ts: str | None = None) -> Message:
        """Record a message a person wrote (the bot cannot update or delete it)."""
        with self._state.lock:
            message = Message(
                channel=channel,
                ts=self._state.next_ts(),
                user=user_id,
                text=text,
                thread_ts=thread_ts,
                team=self.team_id,
            )
            self._state.messages.append(message)
            self._state.emit(EventKind.POSTED, message)
        self._state.dispatch()
        return message

    def issue_trigger_id(self, user_id: str) -> str:
        """A trigger id as Slack puts in an interaction; it expires 3 s later (per ``clock``)."""
        return self._state.issue_trigger_id(user_id)

    def new_response_url(self, channel: str, user_id: str, *, message_ts: str | None = None) -> str:
        """A ``response_url`` on this server; ``message_ts`` is the message an action came from."""
        return self._state.new_response_url(channel, user_id, message_ts=message_ts)

    def fail_next(self, method: str, error: str, retry_after: int | None = None) -> None:
        """Make the next call of ``method`` fail; ``"ratelimited"`` answers HTTP 429."""
        with self._state.lock:
            self._state.failures.setdefault(method, deque()).append(Failure(error, retry_after))

    def close_view(self, view_id: str, *, whole_stack: bool = False) -> None:
        """Close a modal as Slack does after a submission (or ``response_action: clear``)."""
        with self._state.lock:
            view = self._state.require_view(view_id)
            stack = self._state.stacks.get(view.user_id, [])
            if view_id not in stack:
                raise LookupError(f"view {view_id} is not open")
            cut = 0 if whole_stack else stack.index(view_id)
            for closing in stack[cut:]:
                closed = replace(self._state.views[closing], closed=True)
                self._state.views[closing] = closed
                self._state.emit(EventKind.VIEW_CLOSED, closed)
            del stack[cut:]
        self._state.dispatch()

    # -- queries ----------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._state.lock:
            return [c for c in self._state.calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[Message]:
        """Messages in posting order (threads included, ephemeral ones not)."""
        with self._state.lock:
            return [
                m
                for m in self._state.messages
                if not m.ephemeral and (channel is None or m.channel == channel)
            ]

    def ephemerals(self, user: str | None = None, *, channel: str | None = None) -> list[Message]:
        with self._state.lock:
            return [
                m
                for m in self._state.messages
                if m.ephemeral
                and (user is None or m.recipient == user)
                and (channel is None or m.channel == channel)
            ]

    def latest_message(self, channel: str) -> Message | None:
        found = self.messages(channel)
        return found[-1] if found else None

    def message(self, channel: str, ts: str) -> Message | None:
        with self._state.lock:
            return self._state.find_message(channel, ts)

    def view(self, view_id: str) -> View | None:
        with self._state.lock:
            return self._state.views.get(view_id)

    def open_views(self, user_id: str) -> list[View]:
        """The user's modal stack, root first."""
        with self._state.lock:
            return [self._state.views[v] for v in self._state.stacks.get(user_id, [])]

    def home(self, user_id: str) -> View | None:
        with self._state.lock:
            view_id = self._state.homes.get(user_id)
            return self._state.views[view_id] if view_id else None

    def files(self) -> list[UploadedFile]:
        with self._state.lock:
            return [f for f in self._state.uploads.values() if f.completed]

    def user(self, user_id: str) -> User | None:
        with self._state.lock:
            return self._state.users.get(user_id)

    def users(self) -> list[User]:
        with self._state.lock:
            return list(self._state.users.values())

    def channel(self, channel_id: str) -> Channel | None:
        with self._state.lock:
            return self._state.channels.get(channel_id)

    def usergroup(self, handle: str) -> Usergroup | None:
        """The user group a person mentions as ``@handle`` (what the Slack client looks up)."""
        wanted = handle.lstrip("@").lower()
        with self._state.lock:
            return next((g for g in self._state.usergroups.values() if g.handle.lower() == wanted), None)

    def display_name(self, user_id: str) -> str | None:
        """A resolver for ``render_blocks``: the name Slack shows for a user."""
        user = self.user(user_id)
        if user is None:
            return None
        return user.display_name or user.real_name or user.name

    def channel_name(self, channel_id: str) -> str | None:
        """A resolver for ``render_blocks``."""
        channel = self.channel(channel_id)
        return channel.name if channel and not channel.is_im else None

    # -- waiting and subscribing ------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, *, description: str = "") -> T:
        """Wait until ``predicate()`` returns a truthy value and return it.

        The predicate is re-evaluated whenever something is recorded (no polling with sleeps).
        On timeout a ``TimeoutError`` lists what was recorded, to show what happened instead.
        """
        return self._state.wait_for(predicate, timeout, description=description)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every ``SlackEvent``, in order; returns an unsubscribe function.

        Callbacks run on a server thread, outside the workspace lock (they may query it).
        """
        return self._state.subscribe(callback)

    # -- Socket Mode: envelopes to the app connected through apps.connections.open ----------

    def socket_send(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Deliver an envelope (``slash_commands``, ``interactive``, ``events_api``) to the app's
        newest connection and return its ``envelope_id``; ``retry_attempt`` marks a redelivery."""
        with self._state.lock:
            server = self._state.socket_mode
        if server is None:
            raise ConnectionError("no app is connected over Socket Mode")
        return server.send(
            kind,
            payload,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )

    def socket_send_raw(self, text: str, *, envelope_id: str = "") -> None:
        """Deliver `text` as it is over Socket Mode (what Slack never sends: not JSON, a payload
        that is not an object…); `wait_ack(envelope_id)` then waits for its ack."""
        with self._state.lock:
            server = self._state.socket_mode
        if server is None:
            raise ConnectionError("no app is connected over Socket Mode")
        server.send_raw(text, envelope_id=envelope_id)

    def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> socket_mode.Ack:
        """The app's ack of an envelope, once it came (its payload, and how long it took)."""
        ack = self.wait_for(
            lambda: self._state.socket_mode.ack(envelope_id) if self._state.socket_mode else None,
            timeout,
            description=f"the ack of envelope {envelope_id}",
        )
        return cast(socket_mode.Ack, ack)

    def socket_connections(self) -> int:
        """How many Socket Mode connections are open now."""
        with self._state.lock:
            return self._state.socket_mode.connections() if self._state.socket_mode else 0

    def socket_connects(self) -> int:
        """How many Socket Mode connections were ever opened (a reconnection counts one more)."""
        with self._state.lock:
            return self._state.socket_mode.connects() if self._state.socket_mode else 0

    def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send ``disconnect`` on every connection: the app must reconnect through
        ``apps.connections.open`` (``link_disabled`` tells it Socket Mode was turned off)."""
        with self._state.lock:
            server = self._state.socket_mode
        if server is not None:
            server.disconnect(reason)

    def socket_close(self, code: int = 1000, reason: str = "") -> None:
        """Close every Socket Mode connection with a close frame, as Slack does when it drops a link."""
        with self._state.lock:
            server = self._state.socket_mode
        if server is not None:
            server.close(code, reason)

    # -- inbound requests built from the workspace state (sign them with signing.signed_headers)

    def slash_command_payload(
        self, command: str, text: str, *, user_id: str, channel_id: str
    ) -> dict[str, str]:
        """A ``slash_commands`` envelope's payload: the fields of ``slash_command_body``."""
        return inbound_payloads.slash_command_payload(
            self._state, command, text, user_id=user_id, channel_id=channel_id
        )

    def action_payload(
        self,
        user_id: str,
        *,
        action_id: str,
        block_id: str | None = None,
        channel: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        selected: signing.Selection = None,
    ) -> dict[str, Any]:
        """An ``interactive`` envelope's payload: the ``block_actions`` JSON of ``action_body``."""
        return inbound_payloads.action_payload(
            self._state,
            user_id,
            action_id=action_id,
            block_id=block_id,
            channel=channel,
            message_ts=message_ts,
            view_id=view_id,
            selected=selected,
        )

    def slash_command_body(self, command: str, text: str, *, user_id: str, channel_id: str) -> str:
        """A slash command from ``user_id`` in ``channel_id``, with a fresh trigger and URL."""
        return inbound_payloads.slash_command_body(
            self._state, command, text, user_id=user_id, channel_id=channel_id
        )

    def action_body(
        self,
        user_id: str,
        *,
        action_id: str,
        block_id: str | None = None,
        channel: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        selected: signing.Selection = None,
        action_ts: str | None = None,
    ) -> str:
        """A ``block_actions`` payload for pressing or choosing ``action_id``.

        The element is looked up in a view (``view_id``) or a message (``channel`` and
        ``message_ts``; without ``message_ts`` the newest message the user sees that holds the
        element). ``selected`` is the chosen option value(s), user id(s), date...
        """
        return inbound_payloads.action_body(
            self._state,
            user_id,
            action_id=action_id,
            block_id=block_id,
            channel=channel,
            message_ts=message_ts,
            view_id=view_id,
            selected=selected,
            action_ts=action_ts,
        )

    def view_submission_body(
        self, user_id: str, view_id: str, inputs: Mapping[str, signing.Selection]
    ) -> str:
        """A ``view_submission`` of ``view_id`` with ``inputs`` keyed by action_id."""
        return inbound_payloads.view_submission_body(self._state, user_id, view_id, inputs)

    def app_home_opened_body(self, user_id: str, *, event_id: str | None = None) -> str:
        """An Events API ``app_home_opened`` delivery for ``user_id``."""
        return inbound_payloads.app_home_opened_body(self._state, user_id, event_id=event_id)

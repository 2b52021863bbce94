"""Who is asking (R24): every request's Slack account is admitted, or refused, before it acts.

A middleware gives each request one `SlackPeople` (one `users.info` per person per request), tied
to the workspace that installed the bot (`auth.test`, as Bolt's authorization found it) and to the
team the request says it comes from. Listeners reach it through their `handlers.requests.Request`
(its `people`, its `requester`): the requester it returns has been admitted by
`domain.access.Access`, which refuses guests, other organizations' members, bots, apps,
deactivated accounts and unconfirmed emails, and audits the refusal.

The middleware also states the request's Slack account and team for the audit log
(`domain.audit.set_slack_origin`): every audit entry made while serving the request records them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from domain.access import Access, Installation, SlackAccount
from domain.audit import SlackOrigin, set_slack_origin
from handlers.blocks.message import Message
from handlers.blocks.sign_in import sign_in_failed, signed_in
from handlers.context import PEOPLE, Services, correlation_id
from handlers.people import SlackPeople
from handlers.slack_directory import SlackUsers

__all__ = ["SignInNotices", "access_of", "people", "register", "request_team"]

log = logging.getLogger(__name__)

_ACCESS = "access"


def register(app: App, services: Services) -> None:
    access = services.access or Access(services.licenses.authorization.refuse)
    app.middleware(_admission(access, services.slack_users))


def access_of(context: BoltContext) -> Access:
    found = context.get(_ACCESS)
    if not isinstance(found, Access):
        raise RuntimeError("handlers.admission is not registered")
    return found


class SignInNotices:
    """Tells a person in Slack (a direct message) how their Microsoft sign-in ended."""

    def __init__(self, client: WebClient | None) -> None:
        self._client = client

    def signed_in(self, slack_user_id: str, upn: str) -> None:
        self._tell(slack_user_id, signed_in(upn))

    def failed(self, slack_user_id: str, why: str) -> None:
        self._tell(slack_user_id, sign_in_failed(why))

    def _tell(self, slack_user_id: str, notice: Message) -> None:
        if self._client is None:
            log.info("a sign-in ended, with no Slack client to tell the person")
            return
        try:
            self._client.chat_postMessage(channel=slack_user_id, **notice.to_dict())
        except Exception:  # the binding holds whether or not Slack takes the message
            log.exception("could not tell a person how their Microsoft sign-in ended")


def people(context: BoltContext) -> SlackPeople:
    """The request's Slack people; its `requester` is admitted (R24)."""
    found = context.get(PEOPLE)
    if not isinstance(found, SlackPeople):
        raise RuntimeError("handlers.admission is not registered: no request is admitted without it")
    return found


def request_team(body: dict[str, Any]) -> str:
    """The team the request's user comes from: `user.team_id` of an interaction, else the team."""
    user = body.get("user")
    if isinstance(user, dict) and user.get("team_id"):
        return str(user["team_id"])
    team = body.get("team")
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    return str(body.get("team_id") or body.get("user_team") or "")


def _admission(access: Access, users: SlackUsers) -> Callable[..., None]:
    def admission(
        context: BoltContext, body: dict[str, Any], client: WebClient, next: Callable[[], None]
    ) -> None:
        """Ties the request to its Slack account for the audit, and gives it its `SlackPeople`."""
        team = request_team(body)
        set_slack_origin(SlackOrigin(context.user_id, team) if context.user_id else None)
        installation = _installation(context)
        action = _action(body)

        def admit(account: SlackAccount) -> str:
            return access.admit(account, installation, action, correlation_id(context))

        context[PEOPLE] = SlackPeople(client, admit, request_team=team, users=users)
        context[_ACCESS] = access
        next()

    return admission


def _installation(context: BoltContext) -> Installation:
    """The installing workspace, from `auth.test` (Bolt's authorization result of the bot token)."""
    result = context.authorize_result
    team = (result.team_id if result is not None else None) or ""
    enterprise = (result.enterprise_id if result is not None else None) or ""
    return Installation(
        team_id=str(team),
        enterprise_id=str(enterprise),
        enterprise_install=bool(context.is_enterprise_install),
    )


def _action(body: dict[str, Any]) -> str:
    """What the request asked for, in the audit's words: the command, the button or the form."""
    command = body.get("command")
    if isinstance(command, str):
        return " ".join([command, *str(body.get("text") or "").split(maxsplit=1)[:1]])[:200]
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return f"button {actions[0].get('action_id') or ''}"[:200]
    view = body.get("view")
    if body.get("type") == "view_submission" and isinstance(view, dict):
        return f"form {view.get('callback_id') or ''}"[:200]
    event = body.get("event")
    if isinstance(event, dict):
        return str(event.get("type") or "event")[:200]
    return str(body.get("type") or "request")[:200]

"""Web API methods of identity and directory: ``auth.test``, ``apps.connections.open`` (Socket Mode),
``users.info``, ``users.lookupByEmail``, ``usergroups.users.list``, ``conversations.info`` and
``conversations.open``."""

from __future__ import annotations

from typing import Any

from bot.local_slack import socket_mode
from bot.local_slack.web_api import ApiError, Method, Params
from bot.local_slack.workspace_state import WorkspaceState

__all__ = ["METHODS"]


def auth_test(state: WorkspaceState, _: Params) -> dict[str, Any]:
    return {
        "url": f"https://{state.team_domain}.slack.com/",
        "team": state.team_name,
        "user": state.users[state.bot_user_id].name,
        "team_id": state.team_id,
        "user_id": state.bot_user_id,
        "bot_id": state.bot_id,
        "is_enterprise_install": False,
    }


def apps_connections_open(state: WorkspaceState, _: Params) -> dict[str, Any]:
    if state.socket_mode is None:
        state.socket_mode = socket_mode.SocketModeServer(
            app_id=state.app_id, host=state.host, changed=state.changed
        ).start()
    return {"url": state.socket_mode.issue_url()}


def users_info(state: WorkspaceState, p: Params) -> dict[str, Any]:
    user = state.users.get(p.require("user"))
    if user is None:
        raise ApiError("user_not_found")
    return {"user": user.as_api(state.team_id)}


def users_lookup_by_email(state: WorkspaceState, p: Params) -> dict[str, Any]:
    email = p.require("email").lower()
    for user in state.users.values():
        if user.email is not None and user.email.lower() == email:
            return {"user": user.as_api(state.team_id)}
    raise ApiError("users_not_found")


def usergroups_users_list(state: WorkspaceState, p: Params) -> dict[str, Any]:
    group = state.usergroups.get(p.require("usergroup"))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"users": list(group.users)}


def conversations_info(state: WorkspaceState, p: Params) -> dict[str, Any]:
    channel = state.channels.get(p.require("channel"))
    is_member = channel is not None and state.bot_user_id in channel.members
    if channel is None or (channel.is_private and not is_member):
        raise ApiError("channel_not_found")  # a private channel is invisible to a non-member
    return {
        "channel": {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not (channel.is_private or channel.is_im or channel.is_mpim),
            "is_group": channel.is_private,
            "is_im": channel.is_im,
            "is_mpim": channel.is_mpim,
            "is_private": channel.is_private or channel.is_im or channel.is_mpim,
            "is_archived": False,
            "is_member": is_member,
        }
    }


def conversations_open(state: WorkspaceState, p: Params) -> dict[str, Any]:
    channel_id = p.text("channel")
    if channel_id is not None:
        existing = state.channels.get(channel_id)
        if existing is None or not (existing.is_im or existing.is_mpim):
            raise ApiError("channel_not_found")
        opened = existing.id
        already = True
    else:
        users = [u.strip() for u in (p.text("users") or "").split(",") if u.strip()]
        if not users:
            raise ApiError("users_list_not_supplied")
        for user_id in users:
            user = state.users.get(user_id)
            if user is None:
                raise ApiError("user_not_found")
            if user.deleted:
                raise ApiError("user_disabled")
        opened, already = state.open_conversation(users)
    result: dict[str, Any] = {"channel": {"id": opened}}
    if p.flag("return_im"):
        channel = state.channels[opened]
        others = sorted(channel.members - {state.bot_user_id})
        result["channel"] = {
            "id": opened,
            "created": int(state.clock()),
            "is_im": channel.is_im,
            "is_mpim": channel.is_mpim,
            "is_org_shared": False,
            "user": others[0] if channel.is_im and others else None,
            "is_user_deleted": False,
            "priority": 0,
        }
    if already:
        result.update({"no_op": True, "already_open": True})
    return result


# -- methods: messages ------------------------------------------------------------------

METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "apps.connections.open": apps_connections_open,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "usergroups.users.list": usergroups_users_list,
    "conversations.open": conversations_open,
    "conversations.info": conversations_info,
}

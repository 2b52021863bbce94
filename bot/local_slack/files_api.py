"""Web API methods of files: the upload flow of ``files_upload_v2`` (``files.getUploadURLExternal``,
a POST of the content to the upload URL, ``files.completeUploadExternal``)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.local_slack.chat_api import postable_channel
from bot.local_slack.records import EventKind, Message, UploadedFile
from bot.local_slack.web_api import ApiError, Method, Params, Reply, invalid_arguments, multipart_fields
from bot.local_slack.workspace_state import WorkspaceState

__all__ = ["METHODS", "receive_upload"]


def files_get_upload_url_external(state: WorkspaceState, p: Params) -> dict[str, Any]:
    filename = p.require("filename")
    length_text = p.require("length")
    if not length_text.isdigit():
        raise invalid_arguments("must be an integer [json-pointer:/length]")
    file_id = state.new_id("F")
    token = secrets.token_hex(12)
    state.uploads[file_id] = UploadedFile(
        id=file_id,
        name=filename,
        title=filename,
        content=b"",
        length=int(length_text),
        user=state.bot_user_id,
    )
    state.upload_tokens[token] = file_id
    return {"upload_url": f"{state.base_url}upload/v1/{token}", "file_id": file_id}


def files_complete_upload_external(state: WorkspaceState, p: Params) -> dict[str, Any]:
    entries = p.decoded("files", "invalid_arguments")
    if not isinstance(entries, list) or not entries:
        raise invalid_arguments("missing required field: files")
    channel_ids = [p.text("channel_id")] if p.text("channel_id") else []
    channel_ids += [c for c in (p.text("channels") or "").split(",") if c]
    channels = [postable_channel(state, c) for c in channel_ids]
    thread_ts = p.text("thread_ts")
    comment = p.text("initial_comment")
    completed: list[UploadedFile] = []
    for entry in entries:
        file_id = entry.get("id") if isinstance(entry, Mapping) else None
        pending = state.uploads.get(str(file_id))
        if pending is None or pending.completed:
            raise ApiError("file_not_found")
        completed.append(
            replace(
                pending,
                title=str(entry.get("title") or pending.name),
                channels=tuple(c.id for c in channels),
                thread_ts=thread_ts,
                initial_comment=comment,
                completed=True,
            )
        )
    for done in completed:
        state.uploads[done.id] = done
    for channel in channels:
        state.messages.append(
            Message(
                channel=channel.id,
                ts=state.next_ts(),
                user=state.bot_user_id,
                text=comment or "",
                thread_ts=thread_ts,
                bot_id=state.bot_id,
                app_id=state.app_id,
                team=state.team_id,
                files=tuple(f.id for f in completed),
            )
        )
    for done in completed:
        state.emit(EventKind.FILE_UPLOADED, done)
    return {"files": [_file_object(state, f) for f in completed]}


def _file_object(state: WorkspaceState, upload: UploadedFile) -> dict[str, Any]:
    return {
        "id": upload.id,
        "created": int(state.clock()),
        "timestamp": int(state.clock()),
        "name": upload.name,
        "title": upload.title,
        "mimetype": "text/plain",
        "filetype": upload.name.rpartition(".")[2] if "." in upload.name else "text",
        "user": upload.user,
        "user_team": state.team_id,
        "size": len(upload.content),
        "mode": "hosted",
        "is_external": False,
        "is_public": any(
            not state.channels[c].is_private and not state.channels[c].is_im for c in upload.channels
        ),
        "url_private": f"{state.base_url}files/{upload.id}",
        "channels": [c for c in upload.channels if c.startswith("C")],
        "groups": [c for c in upload.channels if c.startswith("G")],
        "ims": [c for c in upload.channels if c.startswith("D")],
    }


def receive_upload(state: WorkspaceState, token: str, content_type: str, body: bytes) -> Reply:
    with state.lock:
        file_id = state.upload_tokens.pop(token, None)
        if file_id is None:
            return Reply(404, b"upload url not found", content_type="text/plain")
        content = body
        if content_type.lower().startswith("multipart/form-data"):
            fields = multipart_fields(content_type, body)
            value = fields.get("file", fields.get("filename", b""))
            content = value if isinstance(value, bytes) else value.encode()
        state.uploads[file_id] = replace(state.uploads[file_id], content=content)
        state.changed.notify_all()
        return Reply(200, f"OK - {len(content)}".encode(), content_type="text/plain")


METHODS: dict[str, Method] = {
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
}

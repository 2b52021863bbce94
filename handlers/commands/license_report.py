"""`/license report [PRODUCT | has:PRODUCT | group:NAME | all]` (R22): a CSV of users and their
licenses, attached in the thread of a message in the channel.

The users are read a page at a time and written to a temporary file as they come, and the file is
streamed to Slack (`files.getUploadURLExternal`, the upload, `files.completeUploadExternal`, the
steps of `files_upload_v2`): memory holds one page whatever the size of the tenant.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path

from domain.commands import LicenseReport
from domain.errors import DomainError
from handlers.blocks.waste import report_attached, report_comment, report_failed, report_preparing
from handlers.context import Services
from handlers.exports import write_report
from handlers.grammar.waste import ParsedReport
from handlers.presenting import Surface

__all__ = ["send_report"]

UPLOAD_TIMEOUT_SECONDS = 120


def send_report(services: Services, parsed: ParsedReport, *, requester: str, surface: Surface) -> None:
    report = services.licenses.waste.report(
        LicenseReport(
            requester,
            product=parsed.product,
            include_unlicensed=parsed.include_unlicensed,
            group=parsed.group,
        )
    )
    ts = surface.post(report_preparing(report.scope))
    handle, name = tempfile.mkstemp(prefix="license-report-", suffix=".csv")
    path = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            try:
                users = write_report(out, report.products, report.pages, report.group_names)
            except DomainError:
                surface.update(ts, report_failed(report.scope))
                raise
        surface.update(ts, report_attached(report.scope, users, len(report.products)))
        _upload(surface, ts, path, "license-report.csv", report_comment(report.scope, users))
    finally:
        path.unlink(missing_ok=True)


def _upload(surface: Surface, thread_ts: str, path: Path, filename: str, comment: str) -> None:
    """`files_upload_v2`'s three steps, with the file streamed from disk rather than read whole."""
    length = path.stat().st_size
    target = surface.client.files_getUploadURLExternal(filename=filename, length=length)
    with path.open("rb") as body:
        request = urllib.request.Request(  # noqa: S310 - the URL Slack just gave for this upload
            str(target["upload_url"]),
            data=body,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT_SECONDS) as answer:  # noqa: S310
            answer.read()
    surface.client.files_completeUploadExternal(
        files=[{"id": str(target["file_id"]), "title": filename}],
        channel_id=surface.channel,
        thread_ts=thread_ts,
        initial_comment=comment,
    )

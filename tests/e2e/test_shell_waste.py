"""Waste (R22) in the shell, on the demo tenant: reclaim the licenses of disabled accounts, undo it,
and attach the license report."""

from __future__ import annotations

import io
from pathlib import Path

from bot.settings import Settings
from bot.shell import run_shell
from tests.e2e.test_shell import _skus


def test_reclaim_applies_then_undo_gives_back_and_report_attaches_the_csv(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    out = io.StringIO()
    script = ["/license reclaim", "1", "1", "1", "/license report"]

    code = run_shell(
        Settings(database_url=url), demo=False, as_user="lena@contoso.com", lines=script, out=out
    )

    text = out.getvalue()
    assert code == 0
    assert "Traceback" not in text
    preview, _, after = text.partition("> 1\n")
    assert "== Preview: reclaim licenses ==" in preview
    assert "Victor Chen (victor@contoso.com): loses Office 365 E3" in preview.replace("*", "")
    assert "== Licenses reclaimed ==" in after
    assert "== Preview: undo a change ==" in after
    assert "== Change undone ==" in after
    assert _skus(url, "victor@contoso.com") == {"ENTERPRISEPACK"}
    assert "License report of every licensed user: 27 users" in after.replace("*", "")
    assert "attached license-report.csv in the thread (27 rows)" in after
    assert "user,user principal name,enabled,usage location," in after

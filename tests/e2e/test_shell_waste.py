"""Waste (R22) in the shell, on the demo tenant: reclaim the licenses of disabled accounts, undo it,
and attach the license report."""

from __future__ import annotations

import io
from pathlib import Path

from bot.settings import Settings
from bot.shell.session import run_shell
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


def test_renewal_alert_once_per_threshold_as_the_clock_moves_on_then_reduce(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    out = io.StringIO()
    script = [":tick", ":tick", ":tick +8", ":tick", "1"]

    run_shell(Settings(database_url=url), demo=False, as_user="bill@contoso.com", lines=script, out=out)

    text = out.getvalue().replace("*", "")
    first, _, later = text.partition("> :tick +8")
    assert first.count("Office 365 F3 renews on") == 1, "one alert for the 14-day threshold"
    assert "with 3 of 5 licenses unused" in first
    assert "It renews in 10 days" in first
    alerts, _, pressed = later.partition("> 1\n")
    assert alerts.count("Office 365 F3 renews on") == 1, "one for the 3-day threshold, none repeated"
    assert "It renews in 2 days" in alerts
    assert "[1] Reduce to 2 at renewal (primary)  [2] Not now" in alerts
    assert "Subscription eaabaea5" not in pressed or "set to 2 licenses (was 5)" in pressed
    assert "Reducing to 2 licenses: started by bill@contoso.com" in pressed
    assert "Traceback" not in text

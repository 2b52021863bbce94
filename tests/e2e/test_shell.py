"""The local shell, driven like a person would: type commands, press a button, read the replies."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.settings import Settings, TenantBackend
from bot.shell.console import Console
from bot.shell.demo_tenant import add_staff
from bot.shell.session import run_shell
from storage.database import create_engine, session_factory
from storage.simulated import show_user_json

E3 = "ENTERPRISEPACK"
E5 = "ENTERPRISEPREMIUM"


def _skus(database_url: str, user: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        with session_factory(engine)() as session:
            found = show_user_json(session, user)
    finally:
        engine.dispose()
    assert found is not None
    return {lic["skuPartNumber"] for lic in found["assignedLicenses"]}


def test_a_scripted_session_replaces_alices_e3_with_e5(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    out = io.StringIO()
    script = ["/license replace @alice E5", "1", "/license show @alice", ":quit", "/license show @bob"]

    code = run_shell(
        Settings(database_url=url), demo=False, as_user="lena@contoso.com", lines=script, out=out
    )

    text = out.getvalue()
    assert code == 0
    assert "[1] Confirm" in text
    assert "Licenses replaced" in text
    assert "Bob" not in text, "the session stops at :quit"
    assert _skus(url, "alice@contoso.com") == {E5}
    assert _skus(url, "bob@contoso.com") == {E3}


def test_cancel_changes_nothing_and_bad_input_is_explained(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    out = io.StringIO()
    script = ["/license remove @bob E3", "2", "/license remove @bob", "/license", "7", "hello"]

    run_shell(Settings(database_url=url), demo=False, as_user="lena@contoso.com", lines=script, out=out)

    text = out.getvalue()
    assert _skus(url, "bob@contoso.com") == {E3}
    assert "Traceback" not in text
    assert "There is no button 7" in text
    assert "Commands start with /" in text


def test_the_console_script_reads_stdin_on_a_fresh_demo_tenant(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}", "LOG_LEVEL": "WARNING"}
    licensebot = Path(sys.executable).with_name("licensebot")
    result = subprocess.run(
        [str(licensebot), "shell", "--demo"],
        input="/license replace @alice E5\n1\n/license show @alice\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "> /license replace @alice E5" in result.stdout
    assert "Licenses replaced" in result.stdout
    assert "Office 365 E5" in result.stdout.split("> /license show @alice")[1]
    assert not (tmp_path / "unused.db").exists(), "--demo works on a fresh tenant of its own"


BULK = [
    ":add-users 60",
    ":as bill@contoso.com",
    "/subscription seats E5 +60",
    ":as lena@contoso.com",
    "/license replace @staff E5",
    "1",
]


def test_a_60_user_replace_shows_its_csv_after_the_preview_then_each_batch_then_the_result(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    out = io.StringIO()

    run_shell(Settings(database_url=url), demo=False, as_user="lena@contoso.com", lines=BULK, out=out)

    text = out.getvalue()
    assert "Added 60 people holding Office 365 E3 (staff01@contoso.com … staff60@contoso.com)" in text
    preview, _, applied = text.partition("> 1\n")
    assert "*60 users* will get *Office 365 E5*" in preview
    assert preview.index("[1] Confirm (primary)") < preview.index("attached preview-"), (
        "the CSV is shown after the message whose thread it is in"
    )
    progress = [line for line in applied.splitlines() if line.startswith("── licensebot (updating) ──")]
    assert progress == [
        "── licensebot (updating) ── Replacing licenses: 0 of 60 done.",
        "── licensebot (updating) ── Replacing licenses: 20 of 60 done.",
        "── licensebot (updating) ── Replacing licenses: 40 of 60 done.",
    ]
    result = applied.index("── licensebot (updated) ──\n== Licenses replaced ==")
    assert applied.index("40 of 60 done.") < result < applied.index("attached result-")
    assert applied.count("== Licenses replaced ==") == 1, "the message is printed in full once, at the end"
    assert "60 applied · 0 already so" in applied
    assert _skus(url, "staff60@contoso.com") == {E5}


def test_on_a_terminal_progress_is_one_line_rewritten_in_place(tmp_path: Path) -> None:
    container = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'shell.db'}"))
    out = io.StringIO()
    console = Console(container, "lena@contoso.com", out, live=True)
    try:
        for line in BULK:
            console.handle(line)
    finally:
        console.close()
        container.engine.dispose()

    text = out.getvalue()
    assert "\r\x1b[K── licensebot (updating) ── Replacing licenses: 20 of 60 done." in text
    assert "\r\x1b[K── licensebot (updated) ──\n== Licenses replaced ==" in text, (
        "the result takes the place of the progress line"
    )
    assert "── licensebot (updating) ── Replacing licenses: 20 of 60 done.\n" not in text


def test_a_slack_user_group_is_a_target_and_add_users_explains_what_it_takes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    out = io.StringIO()
    script = ["/license replace @sales-team E5", "1", ":add-users", ":add-users 0"]

    run_shell(Settings(database_url=url), demo=False, as_user="lena@contoso.com", lines=script, out=out)

    text = out.getvalue()
    assert "── licensebot ──\n== Preview: replace licenses ==\n*6 users* will get" in text
    assert "• *Heidi Novak* (heidi@contoso.com): loses Office 365 E3; gains Office 365 E5" in text
    assert "Use :add-users N, for example :add-users 60." in text
    assert "Add between 1 and 1,000 users" in text
    for user in ("alice", "bob", "dave", "erin", "frank", "heidi"):
        assert _skus(url, f"{user}@contoso.com") == {E5}


def test_add_users_is_refused_on_a_real_tenant(tmp_path: Path) -> None:
    container = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'shell.db'}"))
    on_graph = replace(
        container, settings=container.settings.model_copy(update={"tenant_backend": TenantBackend.GRAPH})
    )
    try:
        with pytest.raises(ValueError, match="simulated tenant only"):
            add_staff(on_graph, 5)
    finally:
        container.engine.dispose()

"""The local shell, driven like a person would: type commands, press a button, read the replies."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from bot.settings import Settings
from bot.shell import run_shell
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

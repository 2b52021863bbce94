"""Group-based licensing in the demo shell (R21), driven like a person would."""

from __future__ import annotations

import io
from pathlib import Path

from bot.settings import Settings
from bot.shell.session import run_shell
from storage.database import create_engine, session_factory
from storage.simulated import show_user_json


def _licenses(database_url: str, user: str) -> list[dict[str, object]]:
    engine = create_engine(database_url)
    try:
        with session_factory(engine)() as session:
            found = show_user_json(session, user)
    finally:
        engine.dispose()
    assert found is not None
    licenses = found["assignedLicenses"]
    assert isinstance(licenses, list)
    return licenses


def test_the_demo_shell_shows_where_licenses_come_from_and_never_removes_an_inherited_one(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    out = io.StringIO()
    script = [
        "/license show @judy",
        "/license replace @ivan @alice E5",
        "1",
        "/license remove @judy E3",
        "1",
        '/license show group:"All Staff E3"',
        '/license replace group:"All Staff E3" E5',
    ]
    code = run_shell(
        Settings(database_url=url), demo=False, as_user="lena@contoso.com", lines=script, out=out
    )

    text = out.getvalue()
    assert code == 0
    assert "*Office 365 E3* (E3) — from the group All Staff E3, and directly" in text
    assert "*Ivan Petrov* gets Office 365 E3 from the group All Staff E3, so it cannot be removed" in text
    assert "keeps Office 365 E3 through the group All Staff E3" in text
    assert "*All Staff E3* · Microsoft Entra group · 4 members" in text
    assert "== Preview: replace a group's license ==" in text
    [ivan] = _licenses(url, "ivan@contoso.com")
    assert ivan["skuPartNumber"] == "ENTERPRISEPACK"
    assert ivan["assignedByGroups"] == ["All Staff E3"]
    assert ivan["assignedDirectly"] is False
    [judy] = _licenses(url, "judy@contoso.com")
    assert judy["assignedDirectly"] is False, "her direct assignment went; the group keeps it"


def test_the_demo_shell_confirms_a_group_replace_and_follows_its_processing_with_tick(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    out = io.StringIO()
    script = ['/license replace group:"All Staff E3" E5', "1", ":tick", ":tick +1"]
    code = run_shell(
        Settings(database_url=url), demo=False, as_user="lena@contoso.com", lines=script, out=out
    )

    text = out.getvalue()
    assert code == 0
    before, after = text.split("> :tick +1")
    assert "Microsoft 365 is processing the members" in before
    assert "has processed" not in before, "never complete before Microsoft 365 is"
    assert "Microsoft 365 has processed every member" in after
    [ivan] = _licenses(url, "ivan@contoso.com")
    assert ivan["skuPartNumber"] == "ENTERPRISEPREMIUM"
    assert ivan["assignedByGroups"] == ["All Staff E3"]

"""The local shell with forms and App Home: a person opens `/license`, fills it in, submits it,
confirms; fixes a field the form refused; changes services; opens App Home."""

from __future__ import annotations

import io
from pathlib import Path

from bot.settings import Settings
from bot.shell.session import run_shell
from storage.database import create_engine, session_factory
from storage.simulated import show_user_json


def _user(database_url: str, user: str) -> dict[str, list[str]]:
    """The user's products (part numbers) and the services turned off in each."""
    engine = create_engine(database_url)
    try:
        with session_factory(engine)() as session:
            found = show_user_json(session, user)
    finally:
        engine.dispose()
    assert found is not None
    return {lic["skuPartNumber"]: lic["disabledPlanNames"] for lic in found["assignedLicenses"]}


def _session(tmp_path: Path, script: list[str]) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    out = io.StringIO()
    code = run_shell(
        Settings(database_url=url), demo=False, as_user="lena@contoso.com", lines=script, out=out
    )
    assert code == 0
    return url, out.getvalue()


def test_a_scripted_session_fills_in_the_license_form_and_confirms(tmp_path: Path) -> None:
    script = [
        "/license",
        ":set users @alice @bob",
        ":set product E5",
        ":set what replace",
        ":set services -Sway, -Yammer",
        ":form",
        ":submit",
        "1",
    ]

    url, text = _session(tmp_path, script)

    assert "── licensebot [form: License change] ──" in text
    assert "Office 365 E5 · 7 free" in text
    assert "Services of Office 365 E5 (2 of 6)" in text, "the form got the product's services"
    assert "  Users: @alice, @bob\n" in text
    assert "  Services of Office 365 E5: Sway, Yammer Enterprise off" in text
    assert "(form sent)" in text
    alice = "*Alice Wu* (alice@contoso.com): loses Office 365 E3; gains Office 365 E5"
    assert f"{alice} (Sway, Yammer Enterprise off)" in text
    assert "Licenses replaced" in text
    assert "Traceback" not in text
    for user in ("alice@contoso.com", "bob@contoso.com"):
        assert _user(url, user) == {"ENTERPRISEPREMIUM": ["SWAY", "YAMMER_ENTERPRISE"]}


def test_the_form_shows_a_refused_field_and_takes_a_correction(tmp_path: Path) -> None:
    script = [
        "/license",
        ":set users @nora",
        ":set product E5",
        ":submit",
        ":set users @carol",
        ":submit",
    ]

    url, text = _session(tmp_path, script)

    assert "The form says:\n  ✗ Users: Nora Lee has no usage location" in text
    assert "Licenses assigned" in text
    assert _user(url, "carol@contoso.com")["ENTERPRISEPREMIUM"] == []
    assert _user(url, "nora@contoso.com") == {}


def test_mistakes_in_the_console_are_explained(tmp_path: Path) -> None:
    script = [
        ":set users @alice",
        ":submit",
        "/license",
        ":set product E55",
        ":set users @nobody",
        ":close",
        ":form",
    ]

    _, text = _session(tmp_path, script)

    assert text.count("No form is open; /license opens one.") == 3
    assert "Product has no “E55”; it offers: " in text
    assert "No one in the tenant is “@nobody”" in text


def test_the_services_form_and_app_home_from_the_shell(tmp_path: Path) -> None:
    script = [
        "/license services @carol E3",
        ":set services +Sway, -Teams",
        ":set services +Sway, -Microsoft Teams",
        ":submit",
        ":home",
    ]

    url, text = _session(tmp_path, script)

    assert "── licensebot [form: Services] ──" in text
    assert "“Teams” could be several: Avatars for Teams" in text
    assert "Services of Office 365 E3 changed" in text
    assert set(_user(url, "carol@contoso.com")["ENTERPRISEPACK"]) == {"TEAMS1", "YAMMER_ENTERPRISE"}
    home = text.split("> :home")[1]
    assert "── licensebot [App Home] ──" in home
    assert "Lena Fischer* · License Administrator" in home
    assert "*My recent changes* (from the audit log)" in home
    assert "Changed the services of Office 365 E3 for 1 person · 1 applied" in home

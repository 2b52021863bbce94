"""R16 for every /license command and the Confirm and Cancel buttons, for every admin role of the
demo tenant, for dave (no role) and for a Slack user whose email is not in the tenant: allowed or
refused, and each refusal audited (read back from the audit table)."""

from __future__ import annotations

import pytest

from domain.audit import AuditResult
from handlers.ids import CANCEL_CHANGE, CONFIRM_CHANGE
from tests.security.conftest import STRANGER
from tests.slack.conftest import SlackBot, Tenant, text_of

ADMINS = {"grace": "Global", "bill": "Billing", "lena": "License", "uma": "User"}
NOT_ADMINS = {"dave": "no role", STRANGER: "not in the tenant"}
EMAIL = {STRANGER: "stranger@elsewhere.example"}
CHECKED: list[tuple[str, str]] = []
"""(who, command or button) pairs checked in this run (docs/reliability.md)."""


def email(who: str) -> str:
    return EMAIL.get(who, f"{who}@contoso.com")


def refusals(tenant: Tenant, who: str) -> list[str]:
    return [e.action for e in tenant.audit(email(who)) if e.result is AuditResult.REFUSED]


@pytest.mark.parametrize("who", list(ADMINS))
def test_every_admin_role_may_use_every_license_command_and_button(
    sbot: SlackBot, tenant: Tenant, who: str
) -> None:
    replies = 0

    def run(text: str, expect: str) -> None:
        nonlocal replies
        CHECKED.append((who, text or "(form)"))
        assert sbot.command(who, text) == 200
        replies += 1
        sbot.wait_reply(who, replies, containing=expect)

    run("help", "/license")
    run(f"show {sbot.mention('alice')}", "alice@contoso.com")
    run(f"assign {sbot.mention('bob')} E5", "Licenses assigned")
    run(f"replace {sbot.mention('alice')} E5", "Preview")
    CHECKED.append((who, "Confirm"))
    assert sbot.press(who, CONFIRM_CHANGE) == 200
    sbot.wait_reply(who, replies, containing="Licenses replaced")  # in place of the preview
    run(f"remove {sbot.mention('carol')} E3", "Preview")
    CHECKED.append((who, "Cancel"))
    assert sbot.press(who, CANCEL_CHANGE) == 200
    sbot.slack.wait_for(
        lambda: any(e.result is AuditResult.CANCELLED for e in tenant.audit(email(who))),
        description="the cancel audited",
    )
    for text in (f"services {sbot.mention('alice')} E5", ""):
        CHECKED.append((who, text or "(form)"))
        assert sbot.command(who, text) == 200
    sbot.slack.wait_for(
        lambda: len(sbot.slack.calls("views.update")) >= 2, description="both forms filled in"
    )
    sbot.finish()

    assert refusals(tenant, who) == [], f"{ADMINS[who]} admin was refused"
    assert "ENTERPRISEPREMIUM" in tenant.products_of("bob@contoso.com")
    assert tenant.products_of("alice@contoso.com") == {"ENTERPRISEPREMIUM"}
    assert "ENTERPRISEPACK" in tenant.products_of("carol@contoso.com"), "the remove was cancelled"
    for call in sbot.slack.calls("views.update"):
        assert "may not" not in str(call.params)


@pytest.mark.parametrize("who", list(NOT_ADMINS))
def test_without_a_role_every_command_and_button_is_refused_and_audited(
    sbot: SlackBot, tenant: Tenant, who: str
) -> None:
    commands = [
        f"show {sbot.mention('alice')}",
        f"assign {sbot.mention('bob')} E5",
        f"replace {sbot.mention('alice')} E5",
        f"remove {sbot.mention('carol')} E3",
        f"services {sbot.mention('alice')} E5",
        "",
    ]
    for n, text in enumerate(commands, start=1):
        CHECKED.append((who, text or "(form)"))
        assert sbot.command(who, text) == 200
        sbot.slack.wait_for(lambda n=n: len(refusals(tenant, who)) == n, description=f"refusal {n} audited")

    assert sbot.command("lena", "remove has:E3 E3") == 200
    preview = sbot.wait_posted("Preview: remove licenses")
    for n, button in enumerate((CONFIRM_CHANGE, CANCEL_CHANGE), start=len(commands) + 1):
        CHECKED.append((who, "Confirm" if button == CONFIRM_CHANGE else "Cancel"))
        assert sbot.press_on(who, preview, button) == 200
        sbot.slack.wait_for(lambda n=n: len(refusals(tenant, who)) == n, description=f"refusal {n} audited")
    # help reads nothing from the tenant: anyone may read it.
    CHECKED.append((who, "help"))
    assert sbot.command(who, "help") == 200
    sbot.finish()

    assert list(reversed(refusals(tenant, who))) == [  # newest first in the audit
        "show user",
        "assign licenses",
        "replace licenses",
        "remove licenses",
        "show services",
        "list subscriptions",
        "confirm a license change",
        "cancel a license change",
    ]
    assert tenant.all_license_writes() == 0
    still = sbot.slack.message(sbot.channel, preview.ts)
    assert still is not None
    assert "Preview: remove licenses" in text_of(still)
    shown = [text_of(m) for m in sbot.replies(who)] + [
        str(v.blocks) for v in sbot.slack.open_views(sbot.people[who])
    ]
    assert any("/license" in text for text in shown), "help was shown"

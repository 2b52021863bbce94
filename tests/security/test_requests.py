"""Forged, stale, replayed and unsigned requests get 401 and have no effect (DESIGN.md §8): no
tenant write, no audit row, nothing sent to Slack. For a slash command, a button press and a form
submission, each first shown to be accepted when signed properly (so the 401s are not an accident)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.local_slack import signed_headers
from handlers.ids import CONFIRM_CHANGE, FORM_MODE, FORM_PRODUCT, FORM_USERS
from storage.simulated.products import DEMO_PRODUCTS
from tests.security.conftest import effects
from tests.slack.conftest import SIGNING_SECRET, SlackBot, Tenant

FORGERIES: list[str] = []
"""The forged requests this module sent (reported by docs/reliability.md)."""


def forged(body: str) -> dict[str, Callable[[], tuple[str, dict[str, str]]]]:
    """Ways to send `body` (or something like it) that Slack never signed."""
    now = int(time.time())

    def without(*names: str) -> tuple[str, dict[str, str]]:
        headers = signed_headers(body, SIGNING_SECRET)
        return body, {k: v for k, v in headers.items() if k not in names}

    return {
        "wrong secret": lambda: (body, signed_headers(body, "not-the-signing-secret")),
        "stale by 5 min 1 s": lambda: (body, signed_headers(body, SIGNING_SECRET, timestamp=now - 301)),
        "stale by an hour": lambda: (body, signed_headers(body, SIGNING_SECRET, timestamp=now - 3600)),
        "from the future": lambda: (body, signed_headers(body, SIGNING_SECRET, timestamp=now + 400)),
        "signature of another timestamp": lambda: (
            body,
            {
                **signed_headers(body, SIGNING_SECRET, timestamp=now - 10),
                "X-Slack-Request-Timestamp": str(now),
            },
        ),
        "replayed signature, changed body": lambda: (
            body.replace("lena", "dave", 1) + "&x=1",
            signed_headers(body, SIGNING_SECRET),
        ),
        "no signature": lambda: without("X-Slack-Signature"),
        "no timestamp": lambda: without("X-Slack-Request-Timestamp"),
        "neither header": lambda: without("X-Slack-Signature", "X-Slack-Request-Timestamp"),
        "garbage signature": lambda: (
            body,
            {**signed_headers(body, SIGNING_SECRET), "X-Slack-Signature": "v0=" + "0" * 64},
        ),
        "garbage timestamp": lambda: (
            body,
            {**signed_headers(body, SIGNING_SECRET), "X-Slack-Request-Timestamp": "yesterday"},
        ),
    }


def all_refused(bot: SlackBot, tenant: Tenant, body: str) -> None:
    before = effects(bot, tenant)
    for name, make in forged(body).items():
        sent, headers = make()
        status = bot.post(sent, headers)
        FORGERIES.append(name)
        assert status == 401, f"{name}: {status}"
    time.sleep(0.3)  # anything a listener would have done after an ack has had time to happen
    assert effects(bot, tenant) == before, "a forged request had an effect"


def test_a_forged_slash_command_is_refused_without_effect(sbot: SlackBot, tenant: Tenant) -> None:
    body = sbot.command_body("lena", f"assign {sbot.mention('bob')} E5")
    all_refused(sbot, tenant, body)
    assert "ENTERPRISEPREMIUM" not in tenant.products_of("bob@contoso.com")

    # The same request signed properly is accepted and changes the tenant: the 401s were the forgery.
    assert sbot.post(body, signed_headers(body, SIGNING_SECRET)) == 200
    sbot.wait_reply("lena", containing="Licenses assigned")
    assert "ENTERPRISEPREMIUM" in tenant.products_of("bob@contoso.com")


def test_a_forged_button_press_is_refused_without_effect(sbot: SlackBot, tenant: Tenant) -> None:
    assert sbot.command("lena", f"replace {sbot.mention('alice')} E5") == 200
    sbot.wait_reply("lena", containing="Preview")
    body = sbot.press_body("lena", CONFIRM_CHANGE)
    all_refused(sbot, tenant, body)
    assert tenant.license_writes("alice@contoso.com") == 0

    assert sbot.post(body, signed_headers(body, SIGNING_SECRET)) == 200
    sbot.wait_reply("lena", containing="Licenses replaced")
    assert tenant.license_writes("alice@contoso.com") == 1


def test_a_forged_form_submission_is_refused_without_effect(sbot: SlackBot, tenant: Tenant) -> None:
    e5 = DEMO_PRODUCTS["ENTERPRISEPREMIUM"]
    view = sbot.choose("lena", sbot.open_form("lena"), FORM_PRODUCT, e5.sku_id)
    inputs = {FORM_USERS: [sbot.people["bob"]], FORM_PRODUCT: e5.sku_id, FORM_MODE: "assign"}
    body = sbot.slack.view_submission_body(sbot.people["lena"], view.id, inputs)
    all_refused(sbot, tenant, body)
    assert tenant.license_writes("bob@contoso.com") == 0

    assert sbot.post(body, signed_headers(body, SIGNING_SECRET)) == 200
    sbot.wait_reply("lena", containing="Licenses assigned")
    assert tenant.license_writes("bob@contoso.com") == 1


def test_an_empty_unsigned_post_is_refused(sbot: SlackBot, tenant: Tenant) -> None:
    before = effects(sbot, tenant)
    status, _ = sbot.exchange("", {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401
    assert effects(sbot, tenant) == before

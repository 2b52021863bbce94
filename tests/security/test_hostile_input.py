"""Hostile and malformed input (issue 8): the command parser over arbitrary text, and interactive
payloads forged or tampered with, sent signed through the real Bolt app. Always a valid command, a
clear message, or nothing; never another exception, a traceback in Slack, or a tenant change.

Hypothesis runs derandomized with bounded examples, so the suite is deterministic and fast.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import InvalidCommand
from handlers.grammar.license import parse_license
from handlers.grammar.subscription import parse_subscription
from handlers.grammar.words import MAX_TEXT_LENGTH
from handlers.ids import (
    CANCEL_CHANGE,
    CONFIRM_CHANGE,
    FORM_MODE,
    FORM_PRODUCT,
    FORM_USERS,
    RETRY_FAILED,
    UNDO_CHANGE,
)
from storage.simulated.products import DEMO_PRODUCTS
from tests.security.conftest import assert_no_traceback, effects, sent_to_slack
from tests.slack.conftest import SlackBot, Tenant

PARSER_EXAMPLES = 400
PAYLOAD_EXAMPLES = 12
TRIED: dict[str, int] = {}
"""Inputs tried per kind in this run (docs/reliability.md reports them)."""

PARSER = settings(max_examples=PARSER_EXAMPLES, deadline=None, derandomize=True, database=None)
PAYLOADS = settings(
    max_examples=PAYLOAD_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

WORDS = st.sampled_from(
    [
        "assign",
        "replace",
        "remove",
        "services",
        "show",
        "help",
        "list",
        "buy",
        "cancel",
        "status",
        "without",
        "E3",
        "E5",
        "has:E3",
        "has:",
        "<@U123|alice>",
        "<@U123>",
        "<!subteam^S1|@x>",
        "<!channel>",
        "<mailto:a@b.com|a@b.com>",
        "<https://evil|click>",
        "&lt;",
        "&amp;",
        "&gt;",
        "alice@contoso.com",
        ",",
        "Sway,",
        "Teams",
        "Office 365 E3",
        "@",
        "<",
        ">",
        "|",
        "\u202e",
        "\u0000",
        "\U0001f4a9",
        "ß",
        "İ",
        "\t",
        "\n",
    ]
)
GRAMMARISH = st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=12).map(" ".join)
HUGE = st.builds(lambda word, n: word * n, st.text(min_size=1, max_size=8), st.integers(300, 5000))
TEXTS = st.one_of(st.text(), GRAMMARISH, HUGE)


def count(kind: str) -> None:
    TRIED[kind] = TRIED.get(kind, 0) + 1


@PARSER
@given(TEXTS)
def test_the_license_parser_gives_a_command_or_invalid_command(text: str) -> None:
    count("/license text")
    try:
        parsed = parse_license(text)
    except InvalidCommand as refusal:
        message = refusal.message
        parsed = None
    else:
        message = ""
    if parsed is None:
        assert message, "a refusal says why"
        return
    assert parsed is not None
    assert len(text) <= MAX_TEXT_LENGTH or not text.strip(), "over-long text must be refused"


@PARSER
@given(TEXTS)
def test_the_subscription_parser_gives_a_command_or_invalid_command(text: str) -> None:
    count("/subscription text")
    try:
        parsed = parse_subscription(text)
    except InvalidCommand as refusal:
        message = refusal.message
        parsed = None
    else:
        message = ""
    if parsed is None:
        assert message, "a refusal says why"
        return
    assert parsed is not None


# -- interactive payloads through the real app ------------------------------------------------


def payload_of(body: str) -> dict[str, Any]:
    return json.loads(parse_qs(body)["payload"][0])


def body_of(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def fresh(payload: dict[str, Any]) -> dict[str, Any]:
    """A new trigger id, so the app does not take the request for a redelivery of the last one."""
    copy = json.loads(json.dumps(payload))
    copy["trigger_id"] = f"hyp.{uuid.uuid4().hex}"
    return copy


class Watch:
    """Sends forged payloads and checks after each that nothing went wrong."""

    def __init__(self, bot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
        self.bot, self.tenant, self.caplog = bot, tenant, caplog
        self.writes = effects(bot, tenant).writes
        self.start = len(bot.slack.calls())
        caplog.set_level(logging.INFO)

    def send(self, kind: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        count(kind)
        status, answer = self.bot.send(body_of(payload))
        assert status in (200, 400, 404), f"{kind}: HTTP {status}"
        time.sleep(0.05)  # the listener runs after the ack
        self.check()
        return status, answer

    def check(self) -> None:
        crashes = [r for r in self.caplog.records if r.levelno >= logging.ERROR]
        self.caplog.clear()
        assert not crashes, f"unexpected errors: {[r.getMessage() for r in crashes]}"
        sent = sent_to_slack(self.bot, self.start)
        assert_no_traceback(sent)
        assert effects(self.bot, self.tenant).writes == self.writes, "a forged payload changed the tenant"

    def finish(self) -> None:
        self.bot.finish()
        self.check()


def mutate(payload: dict[str, Any], how: str, text: str, data: st.DataObject) -> dict[str, Any]:
    changed = fresh(payload)
    action = changed["actions"][0] if changed.get("actions") else {}
    if how == "forged action_id":
        action["action_id"] = data.draw(st.one_of(st.text(max_size=40), st.just("change." + text)))
    elif how == "unknown change set id":
        action["value"] = data.draw(st.one_of(st.text(max_size=80), st.uuids().map(str)))
    elif how == "value of another type":
        action["value"] = data.draw(st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=3))))
    elif how == "missing field":
        key = data.draw(
            st.sampled_from(["container", "actions", "response_url", "channel", "message", "team"])
        )
        changed.pop(key, None)
    elif how == "missing action field":
        action.pop(data.draw(st.sampled_from(["action_id", "value", "block_id", "type"])), None)
    elif how == "extra fields":
        changed[text or "x"] = data.draw(st.recursive(st.text(max_size=5), lambda s: st.lists(s, max_size=3)))
        action["extra"] = text
    return changed


BUTTONS = [CONFIRM_CHANGE, CANCEL_CHANGE, RETRY_FAILED, UNDO_CHANGE]
BUTTON_MUTATIONS = [
    "forged action_id",
    "unknown change set id",
    "value of another type",
    "missing field",
    "missing action field",
    "extra fields",
]


@pytest.mark.parametrize("on", ["ephemeral preview", "shared preview"])
def test_forged_button_payloads_do_nothing_or_explain(
    sbot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture, on: str
) -> None:
    if on == "ephemeral preview":
        assert sbot.command("lena", f"replace {sbot.mention('alice')} E5") == 200
        sbot.wait_reply("lena", containing="Preview")
        base = payload_of(sbot.press_body("lena", CONFIRM_CHANGE))
    else:
        assert sbot.command("lena", "remove has:E3 E3") == 200
        preview = sbot.wait_posted("Preview: remove licenses")
        body = sbot.slack.action_body(
            sbot.people["lena"], action_id=CONFIRM_CHANGE, channel=sbot.channel, message_ts=preview.ts
        )
        base = payload_of(body)
    watch = Watch(sbot, tenant, caplog)
    seen_notice = []

    @given(
        button=st.sampled_from(BUTTONS),
        how=st.sampled_from(BUTTON_MUTATIONS),
        text=st.text(max_size=30),
        data=st.data(),
    )
    def one(button: str, how: str, text: str, data: st.DataObject) -> None:
        payload = fresh(base)
        payload["actions"][0]["action_id"] = button
        if button != CONFIRM_CHANGE or how != "forged action_id":
            # never the real Confirm with the real id: only forgeries
            payload = mutate(payload, how if how != "forged action_id" else "forged action_id", text, data)
            if payload.get("actions") and payload["actions"][0].get("value") == base["actions"][0]["value"]:
                payload["actions"][0]["value"] = "cs-does-not-exist-" + uuid.uuid4().hex
        else:
            payload = mutate(payload, "forged action_id", text, data)
        before = len(sbot.slack.calls())
        watch.send(f"button: {how}", payload)
        if sbot.slack.calls()[before:]:
            seen_notice.append(how)

    PAYLOADS(one)()
    watch.finish()
    assert seen_notice, "no forged press was ever answered: the test did not reach the listeners"


FORM_MUTATIONS = [
    "random metadata",
    "edited metadata, old seal",
    "metadata of another user",
    "sealed with another secret",
    "no metadata",
    "unknown product",
    "unknown people",
    "missing view field",
    "extra fields",
]


def test_tampered_form_submissions_do_nothing_or_explain(
    sbot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    e5 = DEMO_PRODUCTS["ENTERPRISEPREMIUM"]
    view = sbot.choose("lena", sbot.open_form("lena"), FORM_PRODUCT, e5.sku_id)
    inputs = {FORM_USERS: [sbot.people["bob"]], FORM_PRODUCT: e5.sku_id, FORM_MODE: "assign"}
    base = payload_of(sbot.slack.view_submission_body(sbot.people["lena"], view.id, inputs))
    sealed = base["view"]["private_metadata"]
    digest, _, metadata = sealed.partition(".")
    watch = Watch(sbot, tenant, caplog)
    explained = []

    @given(how=st.sampled_from(FORM_MUTATIONS), text=st.text(max_size=40), data=st.data())
    def one(how: str, text: str, data: st.DataObject) -> None:
        payload = fresh(base)
        view = payload["view"]
        if how == "random metadata":
            view["private_metadata"] = text
        elif how == "edited metadata, old seal":
            edited = json.loads(metadata)
            edited[data.draw(st.sampled_from(sorted(edited)))] = text or "C0OTHER"
            view["private_metadata"] = f"{digest}.{json.dumps(edited, separators=(',', ':'))}"
        elif how == "metadata of another user":
            view["private_metadata"] = sealed
            payload["user"] = {**payload["user"], "id": sbot.people["dave"]}
        elif how == "sealed with another secret":
            from handlers.metadata import FormSeal

            view["private_metadata"] = FormSeal("another-secret").seal(json.loads(metadata))
        elif how == "no metadata":
            view.pop("private_metadata")
        elif how in ("unknown product", "unknown people"):
            view["private_metadata"] = sealed
            for block in view["state"]["values"].values():
                for action_id, state in block.items():
                    if how == "unknown product" and action_id == FORM_PRODUCT:
                        state["selected_option"] = {
                            "text": {"type": "plain_text", "text": "x"},
                            "value": text,
                        }
                    if how == "unknown people" and action_id == FORM_USERS:
                        state["selected_users"] = ["U" + uuid.uuid4().hex[:8].upper(), text]
        elif how == "missing view field":
            view.pop(data.draw(st.sampled_from(["state", "callback_id", "id", "hash"])), None)
            view["private_metadata"] = text  # never a valid form on top of it
        elif how == "extra fields":
            view["private_metadata"] = text
            payload[text or "x"] = {"nested": [text]}
        _status, answer = watch.send(f"form: {how}", payload)
        if answer.get("response_action") or len(sbot.replies("lena")) or sbot.slack.calls("views.update"):
            explained.append(how)

    PAYLOADS(one)()
    watch.finish()
    assert tenant.license_writes("bob@contoso.com") == 0
    assert explained, "no tampered form was ever answered: the test did not reach the listener"

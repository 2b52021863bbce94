"""Malformed requests are refused at the edge (`bot.web.SlackGate`, `handlers.inbound`), through the
WSGI app `licensebot serve` runs: 401 when unsigned or wrongly signed, whatever the body; 400 when
signed but the body does not parse or lacks what the listeners need. Never a 500, never an ERROR
log record or a traceback, and nothing written to the database.

Text holding an invisible control character (NUL and the like) in a command, a button's value or a
form's values is answered with what is wrong and how to fix it, and nothing is written either.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import http.client
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.local_slack import LocalSlack, signed_headers
from bot.local_slack.signing import block_actions_body, view_submission_body
from bot.socket_mode import CheckedSocketModeHandler
from handlers.context import Services
from handlers.ids import (
    CHANGE_ACTIONS_BLOCK,
    CONFIRM_CHANGE,
    FORM_MODE,
    FORM_PRODUCT,
    FORM_PRODUCT_BLOCK,
    FORM_USERS,
    LICENSE_FORM,
)
from storage.orm import Base
from storage.simulated.products import DEMO_PRODUCTS
from tests.conftest import postgres_schema
from tests.security.conftest import assert_no_traceback, effects, sent_to_slack
from tests.slack.conftest import (
    FAST,
    SIGNING_SECRET,
    SlackBot,
    Tenant,
    licenses_on,
    open_tenant,
    serve,
    text_of,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
E5 = DEMO_PRODUCTS["ENTERPRISEPREMIUM"].sku_id

Payload = dict[str, Any]
Mutation = Callable[[Payload], object]


def rows(tenant: Tenant) -> dict[str, int]:
    """The number of rows in every table: what "nothing written" means."""
    with tenant.sessions() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def payload_body(payload: object) -> str:
    return urlencode({"payload": json.dumps(payload)})


def bases(bot: SlackBot) -> dict[str, Payload]:
    """Well-formed requests of each kind, to break one thing at a time."""
    lena = bot.people["lena"]
    command = dict(parse_qsl(bot.command_body("lena", "show alice@contoso.com")))
    action = {
        "action_id": CONFIRM_CHANGE,
        "block_id": CHANGE_ACTIONS_BLOCK,
        "type": "button",
        "value": "cs-0000",
        "action_ts": "1700000000.000001",
    }
    button = block_actions_body(
        user_id=lena,
        user_name="lena",
        action=action,
        trigger_id="1.2.3",
        container={
            "type": "message",
            "message_ts": "1.000001",
            "channel_id": bot.channel,
            "is_ephemeral": True,
        },
        channel={"id": bot.channel, "name": "security"},
        response_url=bot.slack.new_response_url(bot.channel, lena),
    )
    view = {
        "id": "V0MALFORMED",
        "type": "modal",
        "callback_id": LICENSE_FORM,
        "hash": "1.abc",
        "private_metadata": "sealed",
        "blocks": [],
    }
    values = {FORM_PRODUCT_BLOCK: {FORM_PRODUCT: {"type": "static_select", "selected_option": {"value": E5}}}}
    form = view_submission_body(user_id=lena, user_name="lena", view=view, values=values, trigger_id="1.2.4")
    event = json.loads(bot.slack.app_home_opened_body(lena))
    return {
        "command": command,
        "button": json.loads(dict(parse_qsl(button))["payload"]),
        "form": json.loads(dict(parse_qsl(form))["payload"]),
        "event": event,
    }


def drop(*path: str | int) -> Mutation:
    def change(payload: Payload) -> None:
        *parents, last = path
        target: Any = payload
        for key in parents:
            target = target[key]
        del target[last]

    return change


def put(value: object, *path: str | int) -> Mutation:
    def change(payload: Payload) -> None:
        *parents, last = path
        target: Any = payload
        for key in parents:
            target = target[key]
        target[last] = value

    return change


RAW: dict[str, tuple[str, str]] = {
    "payload is not JSON": ("payload=not%20json", FORM),
    "payload is empty": ("payload=", FORM),
    "payload is an empty object": ("payload=%7B%7D", FORM),
    "payload is an array": ("payload=%5B%5D", FORM),
    "payload is a number": ("payload=42", FORM),
    "payload is a string": ("payload=%22text%22", FORM),
    "payload is null": ("payload=null", FORM),
    "payload is true": ("payload=true", FORM),
    "payload nests too deep": ("payload=" + "%5B" * 100_000, FORM),
    "JSON body cut short": ('{"type": "event_callback", "event": {', JSON),
    "JSON body is an array": ('[{"type": "event_callback"}]', JSON),
    "JSON body is an empty object": ("{}", JSON),
    "JSON body is a string": ('"event_callback"', JSON),
    "JSON body is a number": ("42", JSON),
    "form body without command or payload": ("foo=bar&baz=1", FORM),
    "empty body": ("", FORM),
}
"""Bodies that do not parse into an object: (body, content type)."""

BROKEN: dict[str, tuple[str, Mutation]] = {
    # interactions
    "button: no user": ("button", drop("user")),
    "button: user is text": ("button", put("U123", "user")),
    "button: user without id": ("button", drop("user", "id")),
    "button: empty user id": ("button", put("", "user", "id")),
    "button: no team": ("button", drop("team")),
    "button: team is a number": ("button", put(7, "team")),
    "button: team without id": ("button", drop("team", "id")),
    "button: empty actions": ("button", put([], "actions")),
    "button: no actions": ("button", drop("actions")),
    "button: actions is text": ("button", put("change.confirm", "actions")),
    "button: an action is a number": ("button", put([42], "actions")),
    "button: action without action_id": ("button", drop("actions", 0, "action_id")),
    "button: action_id is a number": ("button", put(5, "actions", 0, "action_id")),
    "button: block_id is a number": ("button", put(5, "actions", 0, "block_id")),
    "button: channel is a list": ("button", put(["C1"], "channel")),
    "button: container is text": ("button", put("message", "container")),
    "button: message is text": ("button", put("hello", "message")),
    "button: no type": ("button", drop("type")),
    "button: type is a number": ("button", put(7, "type")),
    "button: empty type": ("button", put("", "type")),
    "button: response_url is a number": ("button", put(1, "response_url")),
    "button: view without type": ("button", put({"id": "V1", "callback_id": LICENSE_FORM}, "view")),
    "button: authorizations of numbers": ("button", put([1], "authorizations")),
    "button: response_urls of text": ("button", put(["https://x"], "response_urls")),
    "button: NUL in the trigger id": ("button", put("1.2\x00", "trigger_id")),
    "button: NUL in the user id": ("button", put("U\x001", "user", "id")),
    # form submissions
    "form: view without type": ("form", drop("view", "type")),
    "form: no view": ("form", drop("view")),
    "form: view is a list": ("form", put([], "view")),
    "form: view without id": ("form", drop("view", "id")),
    "form: view without callback_id": ("form", drop("view", "callback_id")),
    "form: callback_id is a number": ("form", put(3, "view", "callback_id")),
    "form: view without state": ("form", drop("view", "state")),
    "form: state values is a list": ("form", put([], "view", "state", "values")),
    "form: a block of values is text": ("form", put("x", "view", "state", "values", FORM_PRODUCT_BLOCK)),
    "form: private_metadata is a number": ("form", put(9, "view", "private_metadata")),
    "form: no user": ("form", drop("user")),
    "form: no team": ("form", drop("team")),
    # slash commands
    "command: no user_id": ("command", drop("user_id")),
    "command: no team_id": ("command", drop("team_id")),
    "command: empty command": ("command", put("", "command")),
    "command: command without slash": ("command", put("license", "command")),
    "command: no channel_id": ("command", drop("channel_id")),
    "command: no trigger_id": ("command", drop("trigger_id")),
    "command: no response_url": ("command", drop("response_url")),
    "command: NUL in the team id": ("command", put("T\x00", "team_id")),
    # Events API
    "event: no event": ("event", drop("event")),
    "event: event is a list": ("event", put([], "event")),
    "event: event without type": ("event", drop("event", "type")),
    "event: no team_id": ("event", drop("team_id")),
    "event: no event_id": ("event", drop("event_id")),
    "event: event user is a number": ("event", put(5, "event", "user")),
    "url_verification without challenge": ("event", lambda p: p.clear() or p.update(type="url_verification")),
}
"""Payloads that parse but lack what the listeners need: (base, what is broken)."""


def broken_body(base: Payload, kind: str, mutate: Mutation) -> tuple[str, str]:
    payload = copy.deepcopy(base)
    mutate(payload)
    if kind == "command":
        return urlencode(payload), FORM
    if kind == "event":
        return json.dumps(payload), JSON
    return payload_body(payload), FORM


def test_fifty_and_more_malformed_requests_get_400_signed_and_401_otherwise(
    sbot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    base = bases(sbot)
    requests = dict(RAW)
    for name, (kind, mutate) in BROKEN.items():
        requests[name] = broken_body(base[kind], kind, mutate)
    assert len(requests) >= 50
    before, slack_before = rows(tenant), effects(sbot, tenant)

    for name, (body, content_type) in requests.items():
        signed = signed_headers(body, SIGNING_SECRET, content_type=content_type)
        wrong = signed_headers(body, "not-the-signing-secret", content_type=content_type)
        unsigned = {"Content-Type": content_type}
        assert sbot.exchange(body, signed) == (400, ""), f"signed, {name}"
        assert sbot.post(body, wrong) == 401, f"wrongly signed, {name}"
        assert sbot.post(body, unsigned) == 401, f"unsigned, {name}"
        failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not failures, f"{name}: {[r.getMessage() for r in failures]}"
        refusals = [r.getMessage() for r in caplog.records if r.name == "bot.web"]
        assert len(refusals) == 3, f"{name}: {refusals}"
        assert all("\n" not in line for line in refusals)
        caplog.clear()

    sbot.finish()
    assert rows(tenant) == before, "a malformed request wrote to the database"
    assert effects(sbot, tenant) == slack_before, "a malformed request reached a listener"


def test_a_body_that_is_not_utf8_is_refused(sbot: SlackBot, tenant: Tenant) -> None:
    status, _ = sbot.exchange("payload=%FF", {"Content-Type": FORM})
    assert status == 401
    # Signed over bytes that are not UTF-8: the signature cannot be checked, so it is not Slack's.
    raw = b"payload=\xff\xfe"
    connection_status = _post_bytes(sbot, raw)
    assert connection_status == 401


def _post_bytes(bot: SlackBot, raw: bytes) -> int:
    now = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + now.encode() + b":" + raw, hashlib.sha256)
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": now,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
    parts = urlsplit(bot.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("POST", parts.path, body=raw, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


# -- control characters ---------------------------------------------------------------------------


def refused_without_writes(
    bot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture, body: str
) -> tuple[int, dict[str, object]]:
    """Send `body` unsigned (401) and signed; the signed answer, once nothing is left to run."""
    caplog.set_level(logging.INFO)
    before = rows(tenant)
    assert bot.post(body, {"Content-Type": FORM}) == 401
    answer = bot.send(body)
    bot.finish()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not failures, [r.getMessage() for r in failures]
    assert rows(tenant) == before, "a control character reached the database"
    assert_no_traceback(sent_to_slack(bot))
    return answer


@pytest.mark.parametrize(
    ("line", "code_point"),
    [
        ("/license assign <@{bob}|bob> E5\x00", "U+0000"),
        ("/license show alice@contoso.com\x1b[2J", "U+001B"),
        ("/subscription buy E5 1\x7f", "U+007F"),
        ("/license remove <@{bob}|bob>\x08 E3", "U+0008"),
    ],
)
def test_a_command_with_a_control_character_is_explained_and_changes_nothing(
    sbot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture, line: str, code_point: str
) -> None:
    command, _, text = line.partition(" ")
    body = sbot.command_body("lena", text.format(bob=sbot.people["bob"]), command=command)
    status, _ = refused_without_writes(sbot, tenant, caplog, body)
    assert status == 200
    reply = sbot.wait_reply("lena", containing=f"invisible control character ({code_point})")
    assert "Type the command again without pasting it" in text_of(reply)


def test_tabs_and_newlines_are_not_control_characters_to_refuse(sbot: SlackBot) -> None:
    assert sbot.command("lena", "show\talice@contoso.com\r\n") == 200
    sbot.wait_reply("lena", containing="Alice Wu")


def test_a_button_value_with_nul_is_explained_and_changes_nothing(
    sbot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    payload = bases(sbot)["button"]
    payload["actions"][0]["value"] = "cs-\x00-1"
    status, _ = refused_without_writes(sbot, tenant, caplog, payload_body(payload))
    assert status == 200
    sbot.wait_reply("lena", containing="invisible control character (U+0000)")
    assert tenant.all_license_writes() == 0


def test_form_values_with_nul_are_shown_on_the_field_and_change_nothing(
    sbot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    view = sbot.open_form("lena")
    inputs = {FORM_USERS: [sbot.people["bob"]], FORM_PRODUCT: E5, FORM_MODE: "assign"}
    payload = json.loads(
        dict(parse_qsl(sbot.slack.view_submission_body(sbot.people["lena"], view.id, inputs)))["payload"]
    )
    state = payload["view"]["state"]["values"][FORM_PRODUCT_BLOCK][FORM_PRODUCT]
    state["selected_option"]["value"] = E5 + "\x00"

    status, answer = refused_without_writes(sbot, tenant, caplog, payload_body(payload))

    assert status == 200
    assert answer["response_action"] == "errors"
    errors = answer["errors"]
    assert isinstance(errors, dict)
    assert "invisible control character (U+0000)" in errors[FORM_PRODUCT_BLOCK]
    assert tenant.license_writes("bob@contoso.com") == 0


def test_a_choice_with_nul_in_a_form_is_explained_in_the_form(
    sbot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    view = sbot.open_form("lena")
    body = sbot.slack.action_body(sbot.people["lena"], action_id=FORM_PRODUCT, view_id=view.id, selected=E5)
    payload = json.loads(dict(parse_qsl(body))["payload"])
    payload["actions"][0]["selected_option"]["value"] = "\x00"

    status, _ = refused_without_writes(sbot, tenant, caplog, payload_body(payload))

    assert status == 200
    sbot.slack.wait_for(
        lambda: "invisible control character (U+0000)" in str((sbot.slack.view(view.id) or view).blocks),
        description="the refusal in the form",
    )


@pytest.mark.postgres
def test_on_postgresql_a_nul_never_reaches_the_database(
    slack: LocalSlack, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Where the finding came from: PostgreSQL refuses NUL in text, so a NUL in a button's value
    ended in "Something went wrong". Now the command and the button are answered before."""
    caplog.set_level(logging.INFO)
    with (
        postgres_schema(postgres_url, "edge") as url,
        open_tenant(url) as tenant,
        serve(slack, Services(licenses=licenses_on(tenant.uow, tenant.directory), timing=FAST)) as bot,
    ):
        before = rows(tenant)
        button = bases(bot)["button"]
        button["actions"][0]["value"] = "cs-\x00"
        assert bot.send(payload_body(button))[0] == 200
        assert bot.send(bot.command_body("lena", f"assign <@{bot.people['bob']}|bob> E5\x00"))[0] == 200
        bot.wait_reply("lena", count=2)
        bot.finish()
        texts = [text_of(reply) for reply in bot.replies("lena")]
        assert all("invisible control character (U+0000)" in text for text in texts), texts
        failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not failures, [r.getMessage() for r in failures]
        assert rows(tenant) == before


# -- Socket Mode ----------------------------------------------------------------------------------


@pytest.fixture
def socket_app(slack: LocalSlack, tenant: Tenant) -> Iterator[CheckedSocketModeHandler]:
    app = create_app(
        bot_token=slack.bot_token,
        signing_secret=SIGNING_SECRET,
        services=Services(licenses=licenses_on(tenant.uow, tenant.directory)),
        base_url=slack.api_url,
    )
    handler = CheckedSocketModeHandler(app, slack.app_token)
    connects = slack.socket_connects()
    handler.connect()
    slack.wait_for(lambda: slack.socket_connects() > connects, description="the app connecting")
    try:
        yield handler
    finally:
        handler.close()
        app.listener_runner.listener_executor.shutdown(wait=True)


def test_malformed_socket_mode_envelopes_are_acked_or_dropped_without_a_traceback(
    socket_app: CheckedSocketModeHandler,
    slack: LocalSlack,
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    lena = slack.add_user("lena", email="lena@contoso.com")
    channel = slack.add_channel("licensing", members=[lena])
    before = rows(tenant)
    command = slack.slash_command_payload(
        "/license", "show alice@contoso.com", user_id=lena, channel_id=channel
    )
    no_user = {k: v for k, v in command.items() if k != "user_id"}
    interaction = {"type": "block_actions", "user": {"id": lena}, "team": {"id": "T1"}, "actions": []}
    payloads: dict[str, tuple[str, object]] = {
        "payload is a list": ("interactive", []),
        "payload is a number": ("slash_commands", 42),
        "payload is text": ("interactive", "text"),
        "payload is null": ("events_api", None),
        "payload is an empty object": ("interactive", {}),
        "command without user": ("slash_commands", no_user),
        "interaction with empty actions": ("interactive", interaction),
        "form without view type": (
            "interactive",
            {"type": "view_submission", "user": {"id": lena}, "team": {"id": "T1"}, "view": {"id": "V1"}},
        ),
    }
    for name, (kind, payload) in payloads.items():
        envelope_id = f"env-{len(caplog.records)}-{name.replace(' ', '-')}"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload}
        slack.socket_send_raw(json.dumps(envelope), envelope_id=envelope_id)
        ack = slack.wait_ack(envelope_id)
        assert ack.payload is None, name
    for garbage in ("not json", "[1, 2]", '"text"', "{"):
        slack.socket_send_raw(garbage)
    assert rows(tenant) == before, "a malformed envelope wrote to the database"
    # The garbage never gets an answer; a good envelope after it shows the app still reads, in order.
    good = slack.wait_ack(slack.socket_send("slash_commands", command))
    assert good.payload is None
    slack.wait_for(lambda: slack.ephemerals(lena), description="the answer to the good command")

    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not failures, [r.getMessage() for r in failures]
    refusals = [r.getMessage() for r in caplog.records if r.name == "bot.socket_mode"]
    assert len(refusals) == len(payloads) + 4, refusals

"""The local Slack fake through a real slack_sdk WebClient over HTTP (and one real Bolt app)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.local_slack import EventKind, LocalSlack, SlackEvent, render_blocks, signed_headers

START = 1_700_000_000.0
SECRET = "local-signing-secret"


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[LocalSlack]:
    with LocalSlack(clock=clock) as local:
        yield local


@pytest.fixture
def client(slack: LocalSlack) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url)


@pytest.fixture
def alice(slack: LocalSlack) -> str:
    return slack.add_user("alice", real_name="Alice Smith", email="alice@contoso.com")


@pytest.fixture
def general(slack: LocalSlack, alice: str) -> str:
    return slack.add_channel("general", members=[alice])


def _error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


def _code(call: Any) -> str:
    """The Slack error code a call fails with."""
    return str(_error(call).response["error"])


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _confirm_blocks() -> list[dict[str, Any]]:
    return [
        _section("Replace E3 with E5 for alice?"),
        {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                {
                    "type": "button",
                    "action_id": "confirm",
                    "text": {"type": "plain_text", "text": "Confirm"},
                    "value": "wf-1",
                    "style": "primary",
                }
            ],
        },
    ]


def _modal(title: str = "Assign licenses", blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "license.assign",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Assign"},
        "blocks": blocks if blocks is not None else [_section("Pick people")],
    }


# -- authentication, directory --------------------------------------------------------------


def test_auth_test_answers_with_the_bot_identity(slack: LocalSlack, client: WebClient) -> None:
    answer = client.auth_test()

    assert answer["ok"] is True
    assert answer["user_id"] == slack.bot_user_id
    assert answer["bot_id"] == slack.bot_id
    assert answer["team_id"] == slack.team_id
    assert answer["url"] == f"https://{slack.team_domain}.slack.com/"


def test_a_missing_token_is_not_authed_and_a_wrong_one_is_invalid_auth(slack: LocalSlack) -> None:
    anonymous = WebClient(base_url=slack.api_url)
    impostor = WebClient(token="xoxb-wrong", base_url=slack.api_url)

    assert _code(anonymous.auth_test) == "not_authed"
    refused = _error(impostor.auth_test)
    assert refused.response["error"] == "invalid_auth"
    assert refused.response.status_code == 200
    assert [c.error for c in slack.calls("auth.test")] == ["not_authed", "invalid_auth"]


def test_users_info_and_lookup_by_email(client: WebClient, alice: str) -> None:
    user = client.users_info(user=alice)["user"]

    assert user["id"] == alice
    assert user["name"] == "alice"
    assert user["real_name"] == "Alice Smith"
    assert user["profile"]["email"] == "alice@contoso.com"
    assert user["is_bot"] is False
    assert user["deleted"] is False
    assert client.users_lookupByEmail(email="Alice@Contoso.com")["user"]["id"] == alice
    assert _code(lambda: client.users_info(user="U404")) == "user_not_found"
    missing = _error(lambda: client.users_lookupByEmail(email="nobody@contoso.com"))
    assert missing.response["error"] == "users_not_found"


def test_form_only_methods_ignore_json_arguments_like_slack(client: WebClient, alice: str) -> None:
    refused = _error(lambda: client.api_call("users.info", json={"user": alice}))

    assert refused.response["error"] == "invalid_arguments"
    assert "missing required field: user" in refused.response["response_metadata"]["messages"][0]


def test_usergroup_members(slack: LocalSlack, client: WebClient, alice: str) -> None:
    bob = slack.add_user("bob")
    admins = slack.add_usergroup("license-admins", [alice, bob])

    assert client.usergroups_users_list(usergroup=admins)["users"] == [alice, bob]
    missing = _error(lambda: client.usergroups_users_list(usergroup="S404"))
    assert missing.response["error"] == "no_such_subteam"


def test_a_usergroup_is_found_by_the_handle_people_type(slack: LocalSlack, alice: str) -> None:
    sales = slack.add_usergroup("sales-team", [alice], name="Sales")

    found = slack.usergroup("@Sales-Team")

    assert found is not None
    assert (found.id, found.users) == (sales, (alice,))
    assert slack.usergroup("sales") is None


def test_conversations_open_returns_one_dm_per_user(slack: LocalSlack, client: WebClient, alice: str) -> None:
    first = client.conversations_open(users=[alice])
    again = client.conversations_open(users=alice, return_im=True)

    assert first["channel"]["id"].startswith("D")
    assert again["channel"]["id"] == first["channel"]["id"]
    assert again["already_open"] is True
    assert again["channel"]["is_im"] is True
    assert again["channel"]["user"] == alice
    assert slack.open_im(alice) == first["channel"]["id"]
    assert _code(lambda: client.conversations_open(users="U404")) == "user_not_found"


def test_unknown_methods_are_refused(client: WebClient) -> None:
    assert _code(lambda: client.api_call("chat.teleport")) == "unknown_method"


# -- messages -------------------------------------------------------------------------------


def test_post_message_returns_slacks_shape_and_is_recorded(
    slack: LocalSlack, client: WebClient, general: str, clock: FakeClock
) -> None:
    answer = client.chat_postMessage(channel=general, text="Working on it", blocks=_confirm_blocks())

    assert answer["channel"] == general
    assert answer["ts"].startswith(f"{int(clock.now)}.")
    message = answer["message"]
    assert (message["type"], message["user"], message["bot_id"]) == (
        "message",
        slack.bot_user_id,
        slack.bot_id,
    )
    assert message["text"] == "Working on it"
    stored = slack.latest_message(general)
    assert stored is not None
    assert stored.ts == answer["ts"]
    assert stored.blocks[1]["block_id"] == "decide"
    assert stored.blocks[0]["block_id"], "Slack fills in a missing block_id"
    assert slack.calls("chat.postMessage")[0].params["blocks"][1]["block_id"] == "decide"


def test_timestamps_are_unique_and_ordered_even_when_the_clock_stands_still(
    client: WebClient, general: str
) -> None:
    stamps = [client.chat_postMessage(channel=general, text=str(i))["ts"] for i in range(3)]

    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 3


def test_post_message_accepts_blocks_as_a_json_string_in_a_form(
    slack: LocalSlack, client: WebClient, general: str
) -> None:
    client.api_call(
        "chat.postMessage",
        params={"channel": general, "text": "fallback", "blocks": json.dumps(_confirm_blocks())},
    )

    stored = slack.latest_message(general)
    assert stored is not None
    assert render_blocks(stored.blocks, stored.text).element(1).action_id == "confirm"


def test_post_message_to_a_user_id_lands_in_the_dm(slack: LocalSlack, client: WebClient, alice: str) -> None:
    answer = client.chat_postMessage(channel=alice, text="Your license changed")

    assert answer["channel"] == slack.open_im(alice)
    assert [m.text for m in slack.messages(answer["channel"])] == ["Your license changed"]


def test_post_message_by_channel_name_and_in_a_thread(
    slack: LocalSlack, client: WebClient, general: str
) -> None:
    parent = client.chat_postMessage(channel="#general", text="Plan switch started")
    client.chat_postMessage(channel=general, text="step 1 done", thread_ts=parent["ts"])

    replies = [m for m in slack.messages(general) if m.thread_ts == parent["ts"]]
    assert [m.text for m in replies] == ["step 1 done"]
    assert parent["channel"] == general


def test_post_message_errors(slack: LocalSlack, client: WebClient, general: str) -> None:
    outside = slack.add_channel("finance", bot_is_member=False)

    assert _code(lambda: client.chat_postMessage(channel="C404", text="x")) == "channel_not_found"
    assert _code(lambda: client.chat_postMessage(channel=outside, text="x")) == "not_in_channel"
    assert _code(lambda: client.api_call("chat.postMessage", json={"channel": general})) == "no_text"
    too_long = _error(lambda: client.chat_postMessage(channel=general, text="x" * 40_001))
    assert too_long.response["error"] == "msg_too_long"
    client.chat_postMessage(channel=general, text="x" * 40_000)


def test_more_than_fifty_blocks_are_invalid_blocks(client: WebClient, general: str) -> None:
    blocks = [{"type": "divider"} for _ in range(51)]

    refused = _error(lambda: client.chat_postMessage(channel=general, text="x", blocks=blocks))

    assert refused.response["error"] == "invalid_blocks"
    assert refused.response["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]
    client.chat_postMessage(channel=general, text="x", blocks=blocks[:50])


@pytest.mark.parametrize(
    ("block", "pointer"),
    [
        ({"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}, "/blocks/0/text/text"),
        ({"type": "section"}, "/blocks/0"),
        ({"type": "sectoin", "text": {"type": "mrkdwn", "text": "typo"}}, "/blocks/0/type"),
        (
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "mrkdwn", "text": "Go"}}],
            },
            "/blocks/0/elements/0/text/type",
        ),
    ],
)
def test_malformed_blocks_are_refused_with_a_pointer(
    client: WebClient, general: str, block: dict[str, Any], pointer: str
) -> None:
    refused = _error(lambda: client.chat_postMessage(channel=general, text="x", blocks=[block]))

    assert refused.response["error"] == "invalid_blocks"
    assert any(f"[json-pointer:{pointer}]" in e for e in refused.response["errors"])


def test_blocks_that_are_not_json_are_invalid_blocks_format(client: WebClient, general: str) -> None:
    refused = _error(lambda: client.api_call("chat.postMessage", params={"channel": general, "blocks": "[{"}))

    assert refused.response["error"] == "invalid_blocks_format"


def test_post_ephemeral(slack: LocalSlack, client: WebClient, general: str, alice: str) -> None:
    outsider = slack.add_user("mallory")

    answer = client.chat_postEphemeral(channel=general, user=alice, text="Only you see this")

    [ephemeral] = slack.ephemerals(alice)
    assert ephemeral.ts == answer["message_ts"]
    assert (ephemeral.channel, ephemeral.recipient, ephemeral.ephemeral) == (general, alice, True)
    assert slack.messages(general) == []
    refused = _error(lambda: client.chat_postEphemeral(channel=general, user=outsider, text="x"))
    assert refused.response["error"] == "user_not_in_channel"


def test_update_keeps_blocks_unless_replaced_and_refuses_what_it_cannot_update(
    slack: LocalSlack, client: WebClient, general: str, alice: str
) -> None:
    posted = client.chat_postMessage(channel=general, text="Confirm?", blocks=_confirm_blocks())

    updated = client.chat_update(channel=general, ts=posted["ts"], text="Confirmed by alice")
    assert updated["ts"] == posted["ts"]
    assert updated["message"]["text"] == "Confirmed by alice"
    stored = slack.message(general, posted["ts"])
    assert stored is not None
    assert len(stored.blocks) == 2
    assert stored.edited_ts is not None

    client.chat_update(channel=general, ts=posted["ts"], text="Done", blocks=[])
    stored = slack.message(general, posted["ts"])
    assert stored is not None
    assert stored.blocks == ()

    human = slack.post_as_user(general, alice, "hello")
    ephemeral = client.chat_postEphemeral(channel=general, user=alice, text="psst")
    assert _code(lambda: client.chat_update(channel=general, ts="1.000001", text="x")) == "message_not_found"
    assert _code(lambda: client.chat_update(channel=general, ts=human.ts, text="x")) == "cant_update_message"
    ephemeral_update = _error(
        lambda: client.chat_update(channel=general, ts=ephemeral["message_ts"], text="x")
    )
    assert ephemeral_update.response["error"] == "message_not_found"


def test_delete_and_reactions(slack: LocalSlack, client: WebClient, general: str) -> None:
    posted = client.chat_postMessage(channel=general, text="Approval needed")

    client.reactions_add(channel=general, timestamp=posted["ts"], name="white_check_mark")
    again = _error(
        lambda: client.reactions_add(channel=general, timestamp=posted["ts"], name="white_check_mark")
    )
    assert again.response["error"] == "already_reacted"
    stored = slack.message(general, posted["ts"])
    assert stored is not None
    assert stored.reactions == (("white_check_mark", slack.bot_user_id),)

    assert client.chat_delete(channel=general, ts=posted["ts"])["ts"] == posted["ts"]
    assert slack.messages(general) == []
    gone = _error(lambda: client.chat_delete(channel=general, ts=posted["ts"]))
    assert gone.response["error"] == "message_not_found"


# -- failure injection ----------------------------------------------------------------------


def test_ratelimited_answers_429_with_retry_after(slack: LocalSlack, client: WebClient, general: str) -> None:
    slack.fail_next("chat.postMessage", "ratelimited", retry_after=30)

    limited = _error(lambda: client.chat_postMessage(channel=general, text="x"))

    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "30"
    assert limited.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel=general, text="x")["ok"] is True
    assert [c.error for c in slack.calls("chat.postMessage")] == ["ratelimited", None]


def test_other_injected_errors_are_ok_false(slack: LocalSlack, client: WebClient, general: str) -> None:
    slack.fail_next("chat.update", "internal_error")
    slack.fail_next("chat.update", "fatal_error")
    posted = client.chat_postMessage(channel=general, text="x")

    first = _error(lambda: client.chat_update(channel=general, ts=posted["ts"], text="y"))
    second = _error(lambda: client.chat_update(channel=general, ts=posted["ts"], text="y"))

    assert (first.response.status_code, first.response["error"]) == (200, "internal_error")
    assert second.response["error"] == "fatal_error"
    assert client.chat_update(channel=general, ts=posted["ts"], text="y")["ok"] is True


# -- views ----------------------------------------------------------------------------------


def test_views_open_exchanges_a_fresh_trigger(slack: LocalSlack, client: WebClient, alice: str) -> None:
    trigger = slack.issue_trigger_id(alice)

    view = client.views_open(trigger_id=trigger, view=_modal())["view"]

    assert view["id"].startswith("V")
    assert view["type"] == "modal"
    assert view["callback_id"] == "license.assign"
    assert view["root_view_id"] == view["id"]
    assert view["hash"]
    assert view["state"] == {"values": {}}
    stored = slack.view(view["id"])
    assert stored is not None
    assert (stored.user_id, stored.title) == (alice, "Assign licenses")
    assert [v.id for v in slack.open_views(alice)] == [view["id"]]
    reused = _error(lambda: client.views_open(trigger_id=trigger, view=_modal()))
    assert reused.response["error"] == "exchanged_trigger_id"


def test_a_trigger_expires_after_three_seconds(
    slack: LocalSlack, client: WebClient, alice: str, clock: FakeClock
) -> None:
    on_time = slack.issue_trigger_id(alice)
    late = slack.issue_trigger_id(alice)
    clock.advance(3.0)
    client.views_open(trigger_id=on_time, view=_modal())
    clock.advance(0.1)

    expired = _error(lambda: client.views_open(trigger_id=late, view=_modal()))

    assert expired.response["error"] == "expired_trigger_id"
    unknown = _error(lambda: client.views_open(trigger_id="1.2.nope", view=_modal()))
    assert unknown.response["error"] == "invalid_trigger_id"


def test_modal_limits(slack: LocalSlack, client: WebClient, alice: str) -> None:
    long_title = _error(
        lambda: client.views_open(trigger_id=slack.issue_trigger_id(alice), view=_modal(title="x" * 25))
    )
    too_many = _error(
        lambda: client.views_open(
            trigger_id=slack.issue_trigger_id(alice),
            view=_modal(blocks=[{"type": "divider"}] * 101),
        )
    )

    assert long_title.response["error"] == "invalid_arguments"
    assert long_title.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    assert too_many.response["error"] == "invalid_arguments"
    assert "[json-pointer:/view/blocks]" in too_many.response["response_metadata"]["messages"][0]
    client.views_open(
        trigger_id=slack.issue_trigger_id(alice),
        view=_modal(title="x" * 24, blocks=[{"type": "divider"}] * 100),
    )


def test_views_update_by_id_or_external_id_with_hash_checks(
    slack: LocalSlack, client: WebClient, alice: str
) -> None:
    opened = client.views_open(
        trigger_id=slack.issue_trigger_id(alice), view={**_modal(), "external_id": "wf-7"}
    )["view"]

    progress = client.views_update(
        view_id=opened["id"], hash=opened["hash"], view={**_modal(), "external_id": "wf-7"}
    )["view"]
    by_external = client.views_update(external_id="wf-7", view=_modal(blocks=[_section("Done: 3 of 3")]))[
        "view"
    ]

    assert progress["id"] == by_external["id"] == opened["id"]
    assert progress["hash"] != opened["hash"]
    stored = slack.view(opened["id"])
    assert stored is not None
    assert stored.blocks[0]["text"]["text"] == "Done: 3 of 3"
    stale = _error(lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=_modal()))
    assert stale.response["error"] == "hash_conflict"
    assert _code(lambda: client.views_update(view_id="V404", view=_modal())) == "not_found"
    slack.close_view(opened["id"])
    closed = _error(lambda: client.views_update(view_id=opened["id"], view=_modal()))
    assert closed.response["error"] == "not_found"


def test_views_push_stacks_up_to_three(slack: LocalSlack, client: WebClient, alice: str) -> None:
    root = client.views_open(trigger_id=slack.issue_trigger_id(alice), view=_modal())["view"]
    second = client.views_push(trigger_id=slack.issue_trigger_id(alice), view=_modal("Step 2"))["view"]
    client.views_push(trigger_id=slack.issue_trigger_id(alice), view=_modal("Step 3"))

    full = _error(lambda: client.views_push(trigger_id=slack.issue_trigger_id(alice), view=_modal("Step 4")))

    assert full.response["error"] == "push_limit_reached"
    assert second["root_view_id"] == root["id"]
    assert second["previous_view_id"] == root["id"]
    assert [v.title for v in slack.open_views(alice)] == ["Assign licenses", "Step 2", "Step 3"]


def test_views_publish_keeps_one_home_per_user(slack: LocalSlack, client: WebClient, alice: str) -> None:
    bob = slack.add_user("bob")
    home = {"type": "home", "blocks": [_section("Subscriptions")]}

    first = client.views_publish(user_id=alice, view=home)["view"]
    second = client.views_publish(
        user_id=alice, hash=first["hash"], view={"type": "home", "blocks": [_section("Updated")]}
    )["view"]
    client.views_publish(user_id=bob, view=home)

    assert second["id"] == first["id"]
    alice_home = slack.home(alice)
    bob_home = slack.home(bob)
    assert alice_home is not None
    assert bob_home is not None
    assert alice_home.blocks[0]["text"]["text"] == "Updated"
    assert bob_home.id != alice_home.id
    stale = _error(lambda: client.views_publish(user_id=alice, hash=first["hash"], view=home))
    assert stale.response["error"] == "hash_conflict"
    modal_as_home = _error(lambda: client.views_publish(user_id=alice, view=_modal()))
    assert modal_as_home.response["error"] == "invalid_arguments"


# -- files ----------------------------------------------------------------------------------


def test_files_upload_v2_records_content_channel_and_thread(
    slack: LocalSlack, client: WebClient, general: str
) -> None:
    parent = client.chat_postMessage(channel=general, text="Audit export")

    answer = client.files_upload_v2(
        channel=general,
        thread_ts=parent["ts"],
        content="user,license\nalice,E5\n",
        filename="audit.csv",
        title="Audit",
        initial_comment="Here is the audit",
    )

    [uploaded] = slack.files()
    assert answer["file"]["id"] == uploaded.id
    assert answer["file"]["title"] == "Audit"
    assert uploaded.content == b"user,license\nalice,E5\n"
    assert (uploaded.name, uploaded.channel, uploaded.thread_ts) == ("audit.csv", general, parent["ts"])
    assert uploaded.initial_comment == "Here is the audit"
    assert slack.messages(general)[-1].files == (uploaded.id,)


def test_file_upload_to_a_channel_without_the_bot_fails(slack: LocalSlack, client: WebClient) -> None:
    outside = slack.add_channel("finance", bot_is_member=False)

    refused = _error(lambda: client.files_upload_v2(channel=outside, content="x", filename="a.txt"))

    assert refused.response["error"] == "not_in_channel"
    assert slack.files() == []


# -- response URLs --------------------------------------------------------------------------


def test_response_url_posts_ephemeral_by_default_and_in_channel_on_request(
    slack: LocalSlack, general: str, alice: str
) -> None:
    hook = WebhookClient(slack.new_response_url(general, alice))

    assert hook.send(text="Only for you").status_code == 200
    assert hook.send(text="For everyone", response_type="in_channel").status_code == 200

    [private] = slack.ephemerals(alice)
    assert (private.text, private.via_response_url) == ("Only for you", True)
    assert [m.text for m in slack.messages(general)] == ["For everyone"]
    assert [c.method for c in slack.calls()] == ["response_url", "response_url"]


def test_an_action_response_url_replaces_or_deletes_the_original(
    slack: LocalSlack, client: WebClient, general: str, alice: str
) -> None:
    posted = client.chat_postMessage(channel=general, text="Confirm?", blocks=_confirm_blocks())
    hook = WebhookClient(slack.new_response_url(general, alice, message_ts=posted["ts"]))

    hook.send(text="Confirmed", replace_original=True, blocks=[_section("Confirmed by alice")])
    replaced = slack.message(general, posted["ts"])
    assert replaced is not None
    assert replaced.text == "Confirmed"
    assert replaced.blocks[0]["text"]["text"] == "Confirmed by alice"

    hook.send(text="", delete_original=True)
    assert slack.messages(general) == []


def test_a_response_url_takes_five_posts(slack: LocalSlack, general: str, alice: str) -> None:
    hook = WebhookClient(slack.new_response_url(general, alice))

    statuses = [hook.send(text=f"step {i}").status_code for i in range(6)]

    assert statuses == [200, 200, 200, 200, 200, 404]
    assert [m.text for m in slack.ephemerals(alice)] == [f"step {i}" for i in range(5)]
    assert json.loads(hook.send(text="again").body) == {"ok": False, "error": "used_url"}


def test_a_response_url_expires_after_thirty_minutes(
    slack: LocalSlack, general: str, alice: str, clock: FakeClock
) -> None:
    hook = WebhookClient(slack.new_response_url(general, alice))
    clock.advance(30 * 60 + 1)

    answer = hook.send(text="too late")

    assert answer.status_code == 404
    assert json.loads(answer.body)["error"] == "expired_url"
    assert slack.ephemerals(alice) == []


# -- waiting and subscribing ----------------------------------------------------------------


def test_wait_for_returns_once_another_thread_has_posted(
    slack: LocalSlack, client: WebClient, general: str
) -> None:
    poster = threading.Thread(target=lambda: client.chat_postMessage(channel=general, text="done"))
    poster.start()

    message = slack.wait_for(lambda: slack.latest_message(general), timeout=5.0)

    poster.join()
    assert message.text == "done"


def test_wait_for_times_out_with_what_was_recorded(
    slack: LocalSlack, client: WebClient, general: str
) -> None:
    client.chat_postMessage(channel=general, text="progress 1/3")

    with pytest.raises(TimeoutError) as timeout:
        slack.wait_for(slack.ephemerals, timeout=0.05, description="an ephemeral reply")

    report = str(timeout.value)
    assert "an ephemeral reply" in report
    assert "chat.postMessage -> ok" in report
    assert "progress 1/3" in report


def test_subscribers_see_every_change_in_order(
    slack: LocalSlack, client: WebClient, general: str, alice: str
) -> None:
    seen: list[SlackEvent] = []
    unsubscribe = slack.subscribe(seen.append)

    posted = client.chat_postMessage(channel=general, text="Working")
    client.chat_update(channel=general, ts=posted["ts"], text="Done")
    client.chat_postEphemeral(channel=general, user=alice, text="psst")
    view = client.views_open(trigger_id=slack.issue_trigger_id(alice), view=_modal())["view"]
    client.views_update(view_id=view["id"], view=_modal("Progress"))
    client.views_publish(user_id=alice, view={"type": "home", "blocks": []})
    client.files_upload_v2(channel=general, content="x", filename="a.txt")
    unsubscribe()
    client.chat_postMessage(channel=general, text="unseen")

    assert [e.kind for e in seen] == [
        EventKind.POSTED,
        EventKind.UPDATED,
        EventKind.EPHEMERAL,
        EventKind.VIEW_OPENED,
        EventKind.VIEW_UPDATED,
        EventKind.HOME_PUBLISHED,
        EventKind.FILE_UPLOADED,
    ]
    assert seen[1].subject == slack.message(general, posted["ts"])


def test_a_subscriber_may_call_the_api_again(slack: LocalSlack, client: WebClient, general: str) -> None:
    def echo(event: SlackEvent) -> None:
        if event.kind is EventKind.POSTED and getattr(event.subject, "text", "") == "ping":
            client.chat_postMessage(channel=general, text="pong")

    slack.subscribe(echo)
    client.chat_postMessage(channel=general, text="ping")

    assert slack.wait_for(lambda: len(slack.messages(general)) == 2)
    assert [m.text for m in slack.messages(general)] == ["ping", "pong"]


# -- inbound requests against a real Bolt app -----------------------------------------------


@pytest.fixture
def bolt_app(slack: LocalSlack) -> App:
    app = App(
        client=WebClient(token=slack.bot_token, base_url=slack.api_url),
        signing_secret=SECRET,
    )

    @app.command("/license")
    def license_command(ack: Any, respond: Any, command: dict[str, Any], client: WebClient) -> None:
        ack()
        respond(text=f"Working on `{command['text']}`")
        client.chat_postMessage(channel=command["channel_id"], text="Confirm?", blocks=_confirm_blocks())

    @app.action("confirm")
    def confirm(ack: Any, body: dict[str, Any], respond: Any, client: WebClient) -> None:
        ack()
        respond(text="Confirmed", replace_original=True)
        client.views_open(trigger_id=body["trigger_id"], view=_modal())

    @app.view("license.assign")
    def submitted(ack: Any, view: dict[str, Any]) -> None:
        ack()

    return app


def _dispatch(app: App, body: str, clock: FakeClock) -> int:
    headers = signed_headers(body, SECRET, timestamp=int(clock.now))
    return app.dispatch(BoltRequest(body=body, headers=headers)).status


def test_a_bolt_app_runs_a_command_a_button_and_a_modal_against_the_fake(
    slack: LocalSlack, bolt_app: App, general: str, alice: str, clock: FakeClock
) -> None:
    clock.now = time.time()  # Bolt checks signatures against the real clock

    status = _dispatch(
        bolt_app,
        slack.slash_command_body("/license", "show @alice", user_id=alice, channel_id=general),
        clock,
    )
    assert status == 200
    prompt = slack.wait_for(lambda: slack.latest_message(general), description="the prompt")
    assert [m.text for m in slack.wait_for(lambda: slack.ephemerals(alice))] == ["Working on `show @alice`"]

    status = _dispatch(bolt_app, slack.action_body(alice, channel=general, action_id="confirm"), clock)
    assert status == 200
    [modal] = slack.wait_for(lambda: slack.open_views(alice), description="the modal")
    assert modal.callback_id == "license.assign"
    confirmed = slack.wait_for(
        lambda: (m := slack.message(general, prompt.ts)) is not None and m.text == "Confirmed"
    )
    assert confirmed

    submission = slack.view_submission_body(alice, modal.id, {})
    assert _dispatch(bolt_app, submission, clock) == 200


def test_a_bolt_app_refuses_a_request_signed_with_another_secret(
    slack: LocalSlack, bolt_app: App, general: str, alice: str
) -> None:
    body = slack.slash_command_body("/license", "show", user_id=alice, channel_id=general)
    headers = signed_headers(body, "wrong-secret")

    assert bolt_app.dispatch(BoltRequest(body=body, headers=headers)).status == 401
    assert slack.calls("chat.postMessage") == []

"""App Home: `app_home_opened` → `views.publish` with seats, products running out, recent changes, and
the workflow sections only when a provider plugs them in."""

from __future__ import annotations

from bot.local_slack import LocalSlack, View, render_blocks, signed_headers
from handlers.context import HomeItem, Services, WorkflowSections
from tests.slack.conftest import SIGNING_SECRET, SlackBot, Tenant, licenses_on, serve


def open_home(bot: SlackBot, who: str, **headers: int) -> View:
    body = bot.slack.app_home_opened_body(bot.people[who])
    status, _ = bot.send(body, **headers)
    assert status == 200
    return bot.slack.wait_for(lambda: bot.slack.home(bot.people[who]), description=f"the home of {who}")


def shown(view: View) -> str:
    return render_blocks(view.blocks, "").text.replace("*", "").replace("`", "")


def test_home_shows_every_subscription_with_a_seat_bar(bot: SlackBot) -> None:
    home = shown(open_home(bot, "lena"))

    assert "Lena Fischer · License Administrator" in home
    assert "Office 365 E5 (E5)\n▰▰▰▱▱▱▱▱▱▱ 3 of 10 used · 7 free · 1 subscription: 1 active" in home
    assert "Office 365 E3 (E3)" in home
    assert "2 subscriptions: 1 expired (grace period), 1 active" in home
    assert "Running out (at least 90% of the seats in use)\nNo product is that full." in home
    assert "My recent changes\nNone yet." in home
    assert "Workflows in flight" not in home, "no provider, no workflow sections (and nothing made up)"
    assert "Waiting on me" not in home
    publish = bot.slack.calls("views.publish")[0]
    assert publish.params["user_id"] == bot.people["lena"]


def test_home_names_products_running_out_and_my_recent_changes(bot: SlackBot, tenant: Tenant) -> None:
    for n in range(3):
        tenant.add_user(f"kiosk{n}@contoso.com", f"Kiosk {n}", "DESKLESSPACK")  # F3: 5 of 5 used
    assert bot.command("lena", f"assign {bot.mention('bob')} E5") == 200
    bot.wait_reply("lena", containing="Licenses assigned")
    assert bot.command("lena", f"remove {bot.mention('alice')} E3") == 200
    bot.wait_reply("lena", 2, containing="Preview")

    home = shown(open_home(bot, "lena"))

    assert "Office 365 F3: 0 free of 5 (100% used). Add seats with /subscription seats F3 +N." in home
    recent = home.split("My recent changes (from the audit log)")[1]
    lines = [line for line in recent.splitlines() if line.startswith("•")]
    assert "Remove Office 365 E3 from 1 person · waiting for confirmation · " in lines[0]
    assert "Gave Office 365 E5 to 1 person · 1 applied · " in lines[1]


def test_a_workflow_provider_adds_its_sections(slack: LocalSlack, tenant: Tenant) -> None:
    asked: list[str] = []

    def workflows(requester: str) -> WorkflowSections:
        asked.append(requester)
        return WorkflowSections(
            in_flight=[HomeItem("Switch E3 → E5 for 12 users", "waiting for the new subscription")],
            waiting_on_me=[],
        )

    with serve(
        slack, Services(licenses=licenses_on(tenant.uow, tenant.directory), workflows=workflows)
    ) as bot:
        home = shown(open_home(bot, "lena"))

    assert asked == ["lena@contoso.com"]
    assert (
        "Workflows in flight (1)\n• Switch E3 → E5 for 12 users\n    waiting for the new subscription" in home
    )
    assert "Waiting on me\nNothing is waiting on you." in home


def test_someone_without_an_admin_role_is_told_why_in_the_home(bot: SlackBot, tenant: Tenant) -> None:
    home = shown(open_home(bot, "dave"))
    assert "Dave Brown may not read licenses and subscriptions." in home
    assert "Rule R16" not in home
    assert "Subscriptions" not in home


def test_the_messages_tab_publishes_nothing(bot: SlackBot) -> None:
    body = bot.slack.app_home_opened_body(bot.people["lena"]).replace('"tab":"home"', '"tab":"messages"')
    assert bot.send(body)[0] == 200
    bot.finish()
    assert bot.slack.calls("views.publish") == []


def test_a_redelivered_event_publishes_once(bot: SlackBot) -> None:
    body = bot.slack.app_home_opened_body(bot.people["lena"], event_id="Ev0HOME0001")
    assert bot.post(body, signed_headers(body, SIGNING_SECRET)) == 200
    bot.slack.wait_for(lambda: bot.slack.calls("views.publish"), description="the first publish")
    assert (
        bot.post(body, signed_headers(body, SIGNING_SECRET, retry_num=1, retry_reason="http_timeout")) == 200
    )
    bot.finish()
    assert len(bot.slack.calls("views.publish")) == 1

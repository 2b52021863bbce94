"""Group-based licensing end to end (R21), through the real Bolt app with signed requests.

The demo tenant's group All Staff E3 gives Office 365 E3 to Ivan, Judy, Yara and Zoe (Judy also has
it directly). The tenant's clock is the test's, so Microsoft 365's processing of a group's change
(five seconds in the demo) completes when the test moves the clock; until then the group's message
says it is processing, and it never says more.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.local_slack import LocalSlack
from domain.application.group_follows import GroupFollows
from domain.application.use_cases import LicenseUseCases
from domain.audit import AuditResult
from domain.catalog import ProductCatalog
from domain.model import ProcessingState
from handlers.context import Services, Timing
from handlers.ids import CONFIRM_CHANGE, PICK_GROUP, UNDO_CHANGE
from handlers.notifier import SlackNotifier
from storage.database import create_engine, session_factory
from storage.migrate import ensure_schema
from storage.simulated import SimulatedDirectory, SimulatedTenant, demo_user_id, reset_demo_tenant
from storage.simulated.seed import DEMO_GROUP_PROCESSING, demo_group_id, user_row
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock
from tests.slack.conftest import SlackBot, Tenant, serve, text_of
from tests.slack.test_app_home import open_home, shown

ALL_STAFF = demo_group_id("allstaffe3")
POLL = timedelta(seconds=60)
GROUP_TIMING = Timing(progress_interval=0.0)


class GroupTenant(Tenant):
    clock: FixedClock
    follows: GroupFollows

    def tick(self, after: timedelta = DEMO_GROUP_PROCESSING) -> None:
        """Move the clock on, then follow the groups as the scheduler does at each tick."""
        self.clock.advance(after)
        self.follows.tick()

    def group(self) -> tuple[ProcessingState, list[str]]:
        [group] = self.directory.find_groups(ALL_STAFF)
        return group.processing, [lic.sku_id for lic in group.licenses]

    def stall(self) -> None:
        with self.sessions.begin() as session:
            SimulatedDirectory(session, self.clock).groups.stall(ALL_STAFF)


@pytest.fixture
def group_tenant(tmp_path: Path) -> Iterator[GroupTenant]:
    engine = create_engine(f"sqlite:///{tmp_path / 'licensebot.db'}")
    ensure_schema(engine)
    sessions = session_factory(engine)
    clock = FixedClock()
    with sessions.begin() as session:
        reset_demo_tenant(session, clock)
    tenant = GroupTenant(engine, sessions, SqlUnitOfWorkFactory(sessions), SimulatedTenant(sessions, clock))
    tenant.clock = clock
    try:
        yield tenant
    finally:
        engine.dispose()


@contextmanager
def _bot(slack: LocalSlack, tenant: GroupTenant) -> Iterator[SlackBot]:
    licenses = LicenseUseCases.build(tenant.uow, tenant.directory, tenant.clock, ProductCatalog())
    notifier = SlackNotifier(WebClient(token=slack.bot_token, base_url=slack.api_url))
    tenant.follows = GroupFollows(
        tenant.uow, tenant.directory, tenant.clock, notifier, owner="test", poll_interval=POLL
    )
    services = Services(licenses=licenses, timing=GROUP_TIMING, group_follows=tenant.follows)
    with serve(slack, services) as running:
        for name in ("ivan", "judy", "bill", "uma"):
            running.people[name] = slack.add_user(name, email=f"{name}@contoso.com")
        yield running


@pytest.fixture
def group_bot(slack: LocalSlack, group_tenant: GroupTenant) -> Iterator[SlackBot]:
    with _bot(slack, group_tenant) as running:
        yield running


def test_show_names_where_each_license_comes_from(group_bot: SlackBot) -> None:
    assert group_bot.command("lena", "show judy@contoso.com") == 200
    judy = text_of(group_bot.wait_reply("lena", containing="Judy Martin"))
    assert "Office 365 E3 (E3) — from the group All Staff E3, and directly" in judy
    assert group_bot.command("lena", "show ivan@contoso.com") == 200
    ivan = text_of(group_bot.wait_reply("lena", 2, containing="Ivan Petrov"))
    assert "— from the group All Staff E3\n" in ivan
    assert "R21" not in judy + ivan


def test_show_group_gives_its_products_members_and_processing(group_bot: SlackBot) -> None:
    assert group_bot.command("lena", 'show group:"All Staff E3"') == 200
    shown = text_of(group_bot.wait_reply("lena", containing="Group licenses"))
    assert "All Staff E3 · Microsoft Entra group · 4 members" in shown
    assert "License processing: processed" in shown
    assert "Office 365 E3" in shown
    assert "All services on" in shown
    assert "No member is in error." in shown


def test_a_replace_leaves_out_who_only_inherits_and_sends_them_no_write(
    group_bot: SlackBot, group_tenant: GroupTenant
) -> None:
    assert group_bot.command("lena", "replace ivan@contoso.com alice@contoso.com E5") == 200
    preview = text_of(group_bot.wait_reply("lena", containing="Preview: replace licenses"))
    assert "Left out (1)" in preview
    assert "Ivan Petrov gets Office 365 E3 from the group All Staff E3, so it cannot be removed" in preview
    assert "Remove them from All Staff E3" in preview
    assert 'replace group:"All Staff E3"' in preview
    assert group_bot.press("lena", CONFIRM_CHANGE) == 200
    result = text_of(group_bot.wait_reply("lena", containing="Licenses replaced"))
    assert "1 applied" in result
    assert group_tenant.products_of("alice@contoso.com") == {"ENTERPRISEPREMIUM"}
    assert group_tenant.products_of("ivan@contoso.com") == {"ENTERPRISEPACK"}
    assert group_tenant.license_writes("ivan@contoso.com") == 0, "no write Graph would refuse"


def test_removing_a_license_held_both_ways_says_the_group_keeps_it(
    group_bot: SlackBot, group_tenant: GroupTenant
) -> None:
    assert group_bot.command("lena", "remove judy@contoso.com E3") == 200
    preview = text_of(group_bot.wait_reply("lena", containing="Preview: remove licenses"))
    assert "keeps Office 365 E3 through the group All Staff E3" in preview
    assert "Seats" not in preview, "she keeps her seat"
    assert group_bot.press("lena", CONFIRM_CHANGE) == 200
    group_bot.wait_reply("lena", containing="Licenses removed")
    assert group_tenant.products_of("judy@contoso.com") == {"ENTERPRISEPACK"}


def test_a_group_replace_is_previewed_confirmed_and_followed_until_processed(
    group_bot: SlackBot, group_tenant: GroupTenant
) -> None:
    assert group_bot.command("lena", 'replace group:"All Staff E3" E5') == 200
    preview = group_bot.wait_posted("Preview: replace a group's license")
    shown = text_of(preview)
    # Judy keeps E3: she has it directly too.
    assert "The group has 4 members: gain a license: 4 · lose one: 3 · will end in an error: 0" in shown
    assert "Ivan Petrov gains Office 365 E5" in shown
    assert "Ivan Petrov loses Office 365 E3" in shown
    assert "Judy Martin loses" not in shown
    assert "Office 365 E3: 14 → 11 of 25 seats used" in shown
    assert "Office 365 E5: 3 → 7 of 10 seats used" in shown
    assert group_tenant.group()[1] == [group_tenant.directory.find_groups(ALL_STAFF)[0].licenses[0].sku_id]

    assert group_bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    processing = group_bot.wait_posted("Microsoft 365 is processing the members")
    assert processing.ts == preview.ts, "updated in place"
    assert "has processed" not in text_of(processing)
    assert group_tenant.group()[0] is ProcessingState.IN_PROGRESS

    group_tenant.tick(POLL)
    done = group_bot.wait_posted("Microsoft 365 has processed every member")
    assert done.ts == preview.ts
    assert group_tenant.products_of("ivan@contoso.com") == {"ENTERPRISEPREMIUM"}
    audit = group_tenant.audit("lena@contoso.com")
    assert {AuditResult.REQUESTED, AuditResult.APPLIED} <= {entry.result for entry in audit}
    assert any(entry.target == "group:All Staff E3" for entry in audit)


def test_a_group_assign_lists_the_members_left_in_error_with_their_fix(
    group_bot: SlackBot, group_tenant: GroupTenant
) -> None:
    # F3's Skype plan is exclusive with E3's: every member would hold both (R6).
    assert group_bot.command("lena", 'assign group:"All Staff E3" F3') == 200
    preview = group_bot.wait_posted("Preview: assign a group's license")
    shown = text_of(preview)
    assert "Will end in an error (4): Microsoft 365 applies the change to the other members" in shown
    assert "Skype for Business Online (Plan 1)" in shown  # the plan by its name, not MCOIMP
    assert "Skype for Business Online (Plan 2)" in shown  # and MCOSTANDARD
    assert group_bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    group_bot.wait_posted("Microsoft 365 is processing the members")
    group_tenant.tick(POLL)
    done = text_of(group_bot.wait_posted("Members in error"))
    assert "4 members left in an error state" in done
    assert "Ivan Petrov (Office 365 F3)" in done
    assert "Fix:" in done
    assert group_tenant.products_of("ivan@contoso.com") == {"ENTERPRISEPACK"}


def test_a_group_change_can_be_undone(group_bot: SlackBot, group_tenant: GroupTenant) -> None:
    assert group_bot.command("lena", "remove group:allstaffe3 E3") == 200
    preview = group_bot.wait_posted("Preview: remove a group's license")
    assert "Ivan Petrov loses Office 365 E3" in text_of(preview)
    assert group_bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    group_bot.wait_posted("Microsoft 365 is processing the members")
    group_tenant.tick(POLL)
    done = group_bot.wait_posted("Microsoft 365 has processed every member")
    assert group_tenant.products_of("ivan@contoso.com") == set()
    assert group_bot.press_on("lena", done, UNDO_CHANGE) == 200
    undo = group_bot.wait_posted("Preview: undo a group's license")
    assert group_bot.press_on("lena", undo, CONFIRM_CHANGE) == 200
    group_bot.wait_posted("Microsoft 365 is processing the members")
    group_tenant.tick(POLL)
    group_bot.wait_posted("Microsoft 365 has processed every member", count=2)
    assert group_tenant.products_of("ivan@contoso.com") == {"ENTERPRISEPACK"}


def test_processing_that_stalls_is_never_called_complete(
    group_bot: SlackBot, group_tenant: GroupTenant
) -> None:
    assert group_bot.command("lena", 'replace group:"All Staff E3" E5') == 200
    preview = group_bot.wait_posted("Preview: replace a group's license")
    assert group_bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    group_bot.wait_posted("Microsoft 365 is processing the members")
    group_tenant.stall()
    group_tenant.tick(timedelta(hours=1))
    slow = text_of(group_bot.wait_posted("It is taking a long while"))
    assert "has processed" not in slow
    group_tenant.tick(timedelta(days=1))
    ended = text_of(group_bot.wait_posted("this message stops following it"))
    assert ended.count("stops following") == 1
    assert group_tenant.group()[0] is ProcessingState.IN_PROGRESS
    assert all("has processed" not in text_of(m) for m in group_bot.posted())


@pytest.mark.parametrize("admin", ["grace", "bill", "lena", "uma"])
def test_every_admin_role_reads_and_changes_a_groups_license(group_bot: SlackBot, admin: str) -> None:
    """R16: a group's licenses are changed by the roles that change users' licenses; reading is
    open to every admin role (Global, Billing, License, User administrator)."""
    assert group_bot.command(admin, "show group:allstaffe3") == 200
    group_bot.wait_reply(admin, containing="Group licenses")
    assert group_bot.command(admin, "assign group:allstaffe3 E5") == 200
    group_bot.wait_posted("Preview: assign a group's license")


def test_someone_without_an_admin_role_is_refused_and_audited(
    group_bot: SlackBot, group_tenant: GroupTenant
) -> None:
    assert group_bot.command("alice", "show group:allstaffe3") == 200
    group_bot.wait_reply("alice", containing="not")
    assert group_bot.command("alice", "replace group:allstaffe3 E5") == 200
    refusal = text_of(group_bot.wait_reply("alice", 2))
    assert "Alice Wu" in refusal
    refused = [e for e in group_tenant.audit("alice@contoso.com") if e.result is AuditResult.REFUSED]
    assert {e.target for e in refused} == {"group:allstaffe3"}
    assert len(refused) == 2
    assert group_tenant.group()[0] is ProcessingState.COMPLETE
    assert group_bot.posted() == []


def test_an_unknown_group_and_a_bad_target_are_explained(group_bot: SlackBot) -> None:
    assert group_bot.command("lena", 'assign group:"No Such Group" E5') == 200
    unknown = text_of(group_bot.wait_reply("lena", containing="There is no Microsoft Entra group"))
    assert "No Such Group" in unknown
    assert group_bot.command("lena", "assign group: E5") == 200
    text_of(group_bot.wait_reply("lena", 2, containing="Say which group after"))
    assert group_bot.command("lena", "assign alice@contoso.com group:allstaffe3 E5") == 200
    text_of(group_bot.wait_reply("lena", 3, containing="changed on its own"))


def test_two_groups_with_one_name_ask_which_one(group_bot: SlackBot, group_tenant: GroupTenant) -> None:
    with group_tenant.sessions.begin() as session:
        SimulatedDirectory(session, group_tenant.clock).groups.add(
            "All Staff E3", mail_nickname="allstaff2", group_id="ffffffff-0000-4000-8000-000000000000"
        )
    assert group_bot.command("lena", 'replace group:"All Staff E3" E5') == 200
    asked = group_bot.wait_reply("lena", containing="2 groups are called")
    shown = text_of(asked)
    assert ALL_STAFF not in shown, "told apart by their mail nicknames, not their ids"
    assert "mail nickname allstaffe3" in shown
    assert "[1] All Staff E3 (allstaffe3)  [2] All Staff E3 (allstaff2)" in shown
    assert group_bot.press_on("lena", asked, f"{PICK_GROUP}.0") == 200
    preview = text_of(group_bot.wait_posted("Preview: replace a group's license"))
    assert "The group has 4 members" in preview, "the group picked, with its members"


def test_the_processing_delay_keeps_members_as_they_were(group_tenant: GroupTenant) -> None:
    """The tenant side of the follow: members change only once processing is over."""
    with group_tenant.sessions.begin() as session:
        directory = SimulatedDirectory(session, group_tenant.clock)
        directory.assign_group_license(
            ALL_STAFF, [], [directory.find_groups(ALL_STAFF)[0].licenses[0].sku_id]
        )
    assert group_tenant.products_of("ivan@contoso.com") == {"ENTERPRISEPACK"}
    group_tenant.clock.advance(DEMO_GROUP_PROCESSING - timedelta(seconds=1))
    assert group_tenant.products_of("ivan@contoso.com") == {"ENTERPRISEPACK"}
    group_tenant.clock.advance(timedelta(seconds=1))
    assert group_tenant.products_of("ivan@contoso.com") == set()


def test_subscription_list_and_app_home_count_the_seats_groups_take(group_bot: SlackBot) -> None:
    assert group_bot.command("lena", "list", command="/subscription") == 200
    listed = text_of(group_bot.wait_reply("lena", containing="Subscriptions"))
    e3 = listed[listed.index("Office 365 E3 (E3)") :]
    assert e3.split("\n")[2] == "Through groups: All Staff E3 (4 members)"
    assert "Through groups" not in listed[listed.index("Office 365 E5") :]
    home = shown(open_home(group_bot, "lena"))
    assert "Office 365 E3 (E3)" in home
    assert "Through groups: All Staff E3 (4 members)" in home


def test_many_members_in_error_go_in_a_csv_in_the_thread(
    group_bot: SlackBot, group_tenant: GroupTenant
) -> None:
    """25 members, 3 free F3 seats: 22 end in CountViolation, listed in a CSV in the thread."""
    with group_tenant.sessions.begin() as session:
        for n in range(25):
            session.add(user_row(f"temp{n:02d}@contoso.com", f"Temp {n:02d}"))
        session.flush()
        members = [demo_user_id(f"temp{n:02d}@contoso.com") for n in range(25)]
        SimulatedDirectory(session, group_tenant.clock).groups.add(
            "Temps", mail_nickname="temps", members=members, processing_delay=timedelta(seconds=5)
        )
    assert group_bot.command("lena", "assign group:temps F3") == 200
    preview = group_bot.wait_posted("Preview: assign a group's license")
    assert "Will end in an error (22)" in text_of(preview)
    assert group_bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    group_bot.wait_posted("Microsoft 365 is processing the members")
    group_tenant.tick(POLL)
    finished = group_bot.wait_posted("every one in the CSV in this thread")
    done, done_ts = text_of(finished), finished.ts
    assert "22 members left in an error state" in done
    [csv_file] = group_bot.slack.wait_for(group_bot.slack.files, description="the CSV")
    assert csv_file.name.startswith("group-errors-")
    assert csv_file.thread_ts == done_ts
    rows = csv_file.content.decode().strip().splitlines()
    assert rows[0] == "member,product,problem,fix"
    assert len(rows) == 1 + 22
    assert "not enough Office 365 F3 seats for them" in rows[1]


def test_the_services_form_of_a_license_from_a_group_says_they_are_the_groups(group_bot: SlackBot) -> None:
    assert group_bot.command("lena", "services ivan@contoso.com E3") == 200
    refusal = group_bot.slack.wait_for(
        lambda: next(
            (
                v
                for v in group_bot.slack.open_views(group_bot.people["lena"])
                if "set on the group" in str(v.blocks)
            ),
            None,
        ),
        description="the form saying the services are the group's",
    )
    assert 'group:\\"All Staff E3\\"' in str(refusal.blocks) or 'group:"All Staff E3"' in str(refusal.blocks)

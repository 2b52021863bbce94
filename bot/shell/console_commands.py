"""The shell's own commands beyond what Slack would send: `:tick` (poll now, as the scheduler does,
with `+DAYS` to move the clock on), `:add-users N`, and the console's help."""

from __future__ import annotations

from datetime import timedelta

from bot.bootstrap import Container
from bot.clock import MovableClock
from bot.local_slack import LocalSlack
from bot.shell.demo_tenant import STAFF_GROUP, add_staff
from bot.shell.people import LocalPeople
from bot.shell.screen import Screen
from domain.application.group_follows import GroupFollows

__all__ = ["HELP", "MAX_CLOCK_DAYS", "add_users", "tick"]

MAX_CLOCK_DAYS = 3650
"""How far `:tick +DAYS` moves the clock at once."""

HELP = """\
Type what you would type in Slack, for example:
  /license help
  /license show @alice
  /license replace @alice E5        (then type the number of the Confirm button)
  /license                          (a form: fill it in with :set, send it with :submit)
  /license services @carol E3       (a form with a checkbox per service)
  /license replace @sales-team E5   (a Slack user group: alice, bob, dave, erin, frank, heidi)
  /subscription list
Mentions: @alice stands for the tenant user alice@<tenant domain>, @sales-team for the Slack
  user group of that name. Emails work as typed.
Forms: :set FIELD VALUE fills a field, by number or label: :set users @alice @bob,
  :set product E5, :set what replace, :set services -Sway, +Microsoft Teams (or all / none);
  :form shows what the form holds, :submit sends it, :close closes it.
Bulk changes: :add-users 60 adds 60 people holding Office 365 E3 to the simulated tenant, in the
  user group @staff; then /license replace @staff E5 (or has:E3) shows the CSV and the progress.
Console commands: :tick (poll now, as the scheduler does, and follow the groups being processed;
  :tick +14 moves the clock 14 days on first), :home (open App Home),
  :as EMAIL (act as another admin), :add-users N, :help, :quit"""


def tick(container: Container, follows: GroupFollows, screen: Screen, move: str = "") -> None:
    """Poll now, as the scheduler does every POLL_INTERVAL_SECONDS; `+DAYS` moves the clock on
    first. Renewal alerts the poll finds come here, unless REMINDER_CHANNEL names another."""
    subscriptions = container.services.subscriptions
    if subscriptions is None:
        screen.say("There are no subscription workflows to poll.")
        return
    if move:
        clock = container.clock
        days = move.removeprefix("+")
        if not days.isdigit() or not 1 <= int(days) <= MAX_CLOCK_DAYS or not isinstance(clock, MovableClock):
            screen.say(f"Use :tick +DAYS (1 to {MAX_CLOCK_DAYS}), for example :tick +14.")
            return
        now = clock.move_on(timedelta(days=int(days)))
        screen.say(f"(the clock is now {now:%a %d %b %Y %H:%M} UTC)")
    screen.hold()
    try:
        report = subscriptions.ticks.tick()
        followed = follows.tick()
    finally:
        screen.release()
    moved = len(report.advanced) + len(report.resumed)
    groups = f", groups being processed read: {len(followed.polled)}" if followed.polled else ""
    screen.say(f"(polled the tenant: {report.polled} waiting, {moved} moved on{groups})")


def add_users(
    container: Container, slack: LocalSlack, people: LocalPeople, screen: Screen, count: str
) -> None:
    """`:add-users N`: people holding Office 365 E3 in the simulated tenant, in the user group @staff."""
    if not count.isdigit():
        screen.say("Use :add-users N, for example :add-users 60.")
        return
    try:
        added = add_staff(container, int(count))
    except ValueError as problem:
        screen.say(str(problem))
        return
    members = [people.slack_user(email, real_name=name) for email, name in added]
    group = slack.usergroup(STAFF_GROUP)
    everyone = [*(group.users if group else ()), *members]
    slack.add_usergroup(STAFF_GROUP, everyone, usergroup_id=group.id if group else None)
    first, last = added[0][0], added[-1][0]
    span = first if len(added) == 1 else f"{first} … {last}"
    screen.say(
        f"Added {len(added):,} people holding Office 365 E3 ({span}) and a subscription of "
        f"{len(added):,} Office 365 E3 seats for them to the simulated tenant. The Slack user group "
        f"@{STAFF_GROUP} has all {len(everyone):,}: /license replace @{STAFF_GROUP} E5 moves them once "
        f"Office 365 E5 has the seats (/subscription seats E5 +{len(everyone)}, as a Billing "
        "Administrator)."
    )

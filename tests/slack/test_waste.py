"""Waste (R22) through the real app: `/license reclaim` previews the licenses of disabled (and
inactive) accounts, applies them with Confirm and gives them back with Undo; `/license report`
attaches a CSV of users and their licenses in the thread of a message in the channel."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from bot.clock import SystemClock
from bot.local_slack import LocalSlack
from domain.application.use_cases import LicenseUseCases
from domain.audit import AuditResult
from domain.catalog import ProductCatalog
from domain.errors import DirectoryUnavailable
from domain.model import User
from domain.ports import UserQuery
from domain.prices import Price, Prices
from handlers.context import Services
from handlers.ids import CONFIRM_CHANGE, UNDO_CHANGE
from storage.orm import SimUserRow
from storage.simulated import SimulatedDirectory
from tests.slack.conftest import FAST, SlackBot, Tenant, licenses_on, serve, text_of

E3, SPB = "ENTERPRISEPACK", "SPB"


def rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def test_reclaim_previews_the_disabled_accounts_then_confirm_and_undo(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "reclaim") == 200

    preview = text_of(bot.wait_reply("lena", containing="Preview: reclaim licenses"))
    assert "Licenses of disabled accounts: 2 users will lose every license assigned to them" in preview
    assert "Victor Chen (victor@contoso.com): loses Office 365 E3" in preview
    assert "Xena Ward (xena@contoso.com): loses Microsoft 365 Business Premium" in preview
    assert "Office 365 E3: 14 → 13 used of 25" in preview  # the seats freed, per product
    assert "R2" not in preview.replace("R20", "")
    assert tenant.products_of("victor@contoso.com") == {E3}, "nothing changes before Confirm"

    assert bot.press("lena", CONFIRM_CHANGE) == 200
    result = text_of(bot.wait_reply("lena", containing="Licenses reclaimed"))
    assert "2 applied" in result
    assert tenant.products_of("victor@contoso.com") == set()
    assert tenant.products_of("xena@contoso.com") == set()
    assert tenant.license_writes("victor@contoso.com") == 1
    assert AuditResult.APPLIED in {e.result for e in tenant.audit("lena@contoso.com")}

    assert bot.press("lena", UNDO_CHANGE) == 200
    bot.wait_reply("lena", 2, containing="Preview: undo a change")
    assert bot.press("lena", CONFIRM_CHANGE) == 200
    bot.wait_reply("lena", 2, containing="Change undone")
    assert tenant.products_of("victor@contoso.com") == {E3}
    assert tenant.products_of("xena@contoso.com") == {SPB}


def test_reclaim_inactive_adds_people_who_have_not_signed_in(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "reclaim inactive 90") == 200

    preview = text_of(bot.wait_reply("lena", containing="Preview: reclaim licenses"))
    assert "Licenses of disabled and inactive accounts: 3 users" in preview, preview
    assert "Judy Martin (judy@contoso.com)" in preview  # last signed in four months ago
    # Yara never signed in, but her Office 365 E3 comes from a group: never written, named (R21).
    assert "Yara Haddad (yara@contoso.com)" not in preview
    assert "Yara Haddad: keeps Office 365 E3 through the group All Staff E3" in preview, preview
    assert "Judy Martin: keeps Office 365 E3 through the group All Staff E3" in preview, preview
    assert "Office 365 E3: 14 → 13 used" in preview, "Judy keeps hers: one seat freed, not two"
    assert "Heidi Novak" not in preview  # her apps signed in for her three days ago
    why = text_of(bot.wait_reply("lena", 2, containing="Not signed in for 90 days or more"))
    assert "Judy Martin (last signed in 120 days ago)" in why
    assert "Yara Haddad (never signed in, account 200 days old)" in why


def test_without_entra_id_p1_it_says_so_and_still_previews_the_disabled(
    bot: SlackBot, tenant: Tenant
) -> None:
    with tenant.sessions.begin() as session:
        SimulatedDirectory(session, SystemClock()).set_sign_in_activity(False)

    assert bot.command("lena", "reclaim inactive 90") == 200

    preview = text_of(bot.wait_reply("lena", containing="Preview: reclaim licenses"))
    assert "Licenses of disabled accounts: 2 users" in preview
    notice = text_of(bot.wait_reply("lena", 2, containing="Only disabled accounts"))
    assert "Microsoft Entra ID P1" in notice
    assert "AuditLog.Read.All" in notice
    assert "R22" not in notice


def test_reclaim_with_a_wrong_number_of_days_says_how_and_changes_nothing(
    bot: SlackBot, tenant: Tenant
) -> None:
    assert bot.command("lena", "reclaim inactive soon") == 200

    reply = text_of(bot.wait_reply("lena"))
    assert "a whole number of days from 1 to 3,650" in reply
    assert "/license reclaim inactive 90" in reply
    assert tenant.all_license_writes() == 0


def test_reclaim_by_someone_without_a_license_role_is_refused(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("dave", "reclaim") == 200

    assert "may not" in text_of(bot.wait_reply("dave"))
    refusals = [e for e in tenant.audit("dave@contoso.com") if e.result is AuditResult.REFUSED]
    assert [e.action for e in refusals] == ["reclaim licenses"]


def test_report_attaches_every_licensed_user_as_csv_in_the_thread(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "report") == 200

    upload = bot.slack.wait_for(bot.slack.files, description="the report's CSV")[0]
    message = bot.wait_posted("License report")
    assert upload.thread_ts == message.ts
    assert upload.channel == bot.channel
    table = rows(upload.content)
    assert len(table) == 27  # everyone but Nora, who holds no license
    carol = next(r for r in table if r["user principal name"] == "carol@contoso.com")
    assert carol["enabled"] == "yes"
    assert carol["usage location"] == "US"
    assert carol["Office 365 E3"] == "direct"
    assert carol["Office 365 E3: services off"] == "Sway; Yammer Enterprise"
    assert carol["Office 365 E5"] == ""
    victor = next(r for r in table if r["user"] == "Victor Chen")
    assert victor["enabled"] == "no"
    assert "27 users" in text_of(bot.wait_posted("License report of every licensed user: 27 users"))


def test_report_of_a_product_or_of_everyone(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "report has:E3") == 200
    first = bot.slack.wait_for(bot.slack.files, description="the E3 report")[0]
    table = {r["user"]: r for r in rows(first.content)}
    assert len(table) == 14
    # Where each license comes from (R21): the group All Staff E3 gives Ivan his, Judy has both.
    assert table["Ivan Petrov"]["Office 365 E3"] == "group All Staff E3"
    assert table["Judy Martin"]["Office 365 E3"] == "direct and group All Staff E3"
    assert table["Carol Jones"]["Office 365 E3"] == "direct"

    assert bot.command("dave", "report all") == 200  # reading: any admin role… dave has none
    assert "may not" in text_of(bot.wait_reply("dave"))

    assert bot.command("lena", "report all") == 200
    everyone = bot.slack.wait_for(lambda: bot.slack.files()[1:], description="the report of everyone")[0]
    assert len(rows(everyone.content)) == 28


def test_report_of_an_entra_group_lists_its_members_and_where_their_licenses_come_from(
    bot: SlackBot,
) -> None:
    assert bot.command("lena", 'report group:"All Staff E3"') == 200
    report = bot.slack.wait_for(bot.slack.files, description="the group's report")[0]
    table = {r["user"]: r for r in rows(report.content)}
    assert sorted(table) == ["Ivan Petrov", "Judy Martin", "Yara Haddad", "Zoe Clark"]
    assert table["Zoe Clark"]["Office 365 E3"] == "group All Staff E3"
    assert "members of the group All Staff E3" in text_of(bot.wait_posted("License report of members"))

    assert bot.command("lena", "report group:Nobody") == 200
    assert "There is no Microsoft Entra group" in text_of(bot.wait_reply("lena", containing="Entra group"))
    assert len(bot.slack.files()) == 1, "no file for a group that does not exist"


def test_with_prices_the_reclaim_preview_says_what_the_freed_seats_cost(
    slack: LocalSlack, tenant: Tenant
) -> None:
    prices = Prices({"ENTERPRISEPACK": Price(Decimal("23.00"), "USD"), "SPB": Price(Decimal("22.00"), "USD")})
    licenses = LicenseUseCases.build(
        tenant.uow, tenant.directory, SystemClock(), ProductCatalog(), prices=prices
    )
    with serve(slack, Services(licenses=licenses)) as bot:
        assert bot.command("lena", "reclaim") == 200

        bot.wait_reply("lena", containing="Preview: reclaim licenses")
        notice = text_of(bot.wait_reply("lena", 2, containing="The seats this frees cost"))
        assert "USD 45.00 a month" in notice


def test_a_bulk_reclaim_is_shared_with_its_csv_and_written_in_batches_with_progress(
    slack: LocalSlack, tenant: Tenant
) -> None:
    leavers = [tenant.add_user(f"leaver{n:02}@contoso.com", f"Leaver {n:02}", E3) for n in range(1, 31)]
    tenant.buy(E3, 30)
    with tenant.sessions.begin() as session:
        session.execute(
            update(SimUserRow)
            .where(SimUserRow.user_principal_name.in_(leavers))
            .values(account_enabled=False)
        )
    with serve(slack, Services(licenses=licenses_on(tenant.uow, tenant.directory), timing=FAST)) as bot:
        assert bot.command("lena", "reclaim") == 200

        preview = bot.wait_posted("Preview: reclaim licenses")
        assert "32 users will lose every license" in text_of(preview)
        upload = bot.slack.wait_for(bot.slack.files, description="the preview's CSV")[0]
        assert upload.thread_ts == preview.ts
        assert bot.press_on("lena", preview, CONFIRM_CHANGE) == 200

        result = bot.wait_posted("Licenses reclaimed")
        assert "32 applied" in text_of(result)
        progress = [
            c.params.get("text") for c in bot.slack.calls("chat.update") if c.params.get("ts") == preview.ts
        ]
        assert any("Reclaiming licenses" in str(text) for text in progress)
        assert all(tenant.products_of(upn) == set() for upn in leavers)


class _FailsAfterOnePage:
    """The tenant, whose listing of users fails after its first page (Graph went away)."""

    def __init__(self, tenant: Tenant) -> None:
        self._inner = tenant.directory

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def user_pages(self, query: UserQuery) -> Iterator[list[User]]:
        pages = self._inner.user_pages(query)
        yield next(pages)[:3]
        raise DirectoryUnavailable("the next page of users did not come")


def test_a_report_that_cannot_finish_says_so_in_place_and_attaches_nothing(
    slack: LocalSlack, tenant: Tenant
) -> None:
    directory: Any = _FailsAfterOnePage(tenant)
    with serve(slack, Services(licenses=licenses_on(tenant.uow, directory))) as bot:
        assert bot.command("lena", "report") == 200

        bot.wait_posted("could not be finished")
        assert "the next page of users did not come" in text_of(bot.wait_reply("lena"))
        assert bot.slack.files() == []

"""`/license status REF` and `/license undo REF`: the short reference under a change's result is one
an admin can type back, in any case; an unknown or ambiguous one is refused with the fix."""

from __future__ import annotations

import re
from dataclasses import replace

from domain.changes import REFERENCE_LENGTH
from handlers.ids import CONFIRM_CHANGE
from tests.slack.conftest import SlackBot, Tenant, text_of

E3, E5 = "ENTERPRISEPACK", "ENTERPRISEPREMIUM"


def assign_bob_e5(bot: SlackBot) -> str:
    """Assign Bob E5; the reference its result shows."""
    assert bot.command("lena", f"assign {bot.mention('bob')} E5") == 200
    result = text_of(bot.wait_reply("lena", containing="Licenses assigned"))
    found = re.search(r"Change ([0-9a-f]+) · audited · /license status \1 shows it again\.", result)
    assert found is not None, result
    assert f"/license undo {found.group(1)}" in result
    return found.group(1)


def test_the_result_shows_a_short_reference_that_status_shows_again(bot: SlackBot, tenant: Tenant) -> None:
    reference = assign_bob_e5(bot)
    assert len(reference) == REFERENCE_LENGTH
    entry = next(e for e in tenant.audit("lena@contoso.com") if e.change_set_id.startswith(reference))
    assert len(entry.change_set_id) == 32, "the full id stays in the audit"
    assert entry.change_set_id not in text_of(bot.replies("lena")[0])

    assert bot.command("lena", f"status {reference.upper()}") == 200

    again = text_of(bot.wait_reply("lena", 2))
    assert "Licenses assigned" in again
    assert "Office 365 E5 assigned for 1 of 1 user." in again
    assert f"Change {reference} · audited" in again


def test_undo_by_reference_previews_then_puts_the_licenses_back(bot: SlackBot, tenant: Tenant) -> None:
    reference = assign_bob_e5(bot)
    assert tenant.products_of("bob@contoso.com") == {E3, E5}

    assert bot.command("lena", f"undo `{reference}`") == 200
    preview = text_of(bot.wait_reply("lena", 2, containing="Preview: undo a change"))
    assert f"held before change {reference} (Office 365 E5)" in preview
    assert tenant.products_of("bob@contoso.com") == {E3, E5}, "nothing changes before Confirm"

    assert bot.press("lena", CONFIRM_CHANGE) == 200
    bot.wait_reply("lena", 2, containing="Change undone")
    assert tenant.products_of("bob@contoso.com") == {E3}


def test_an_unknown_reference_is_refused_with_the_fix(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "undo abcdef12") == 200
    refusal = text_of(bot.wait_reply("lena"))
    assert "No license change has the reference abcdef12." in refusal
    assert "Use the reference shown under the change's result" in refusal
    assert tenant.all_license_writes() == 0


def test_a_reference_two_changes_share_asks_for_more_of_it(bot: SlackBot, tenant: Tenant) -> None:
    reference = assign_bob_e5(bot)
    with tenant.uow() as uow:
        ids = uow.change_sets.ids_starting_with(reference)
        original = uow.change_sets.get(ids[0])
        assert original is not None
        uow.change_sets.add(replace(original, id=reference + "0" * 24, items=[]))
        uow.commit()
    writes = tenant.all_license_writes()

    assert bot.command("lena", f"undo {reference}") == 200
    refusal = text_of(bot.wait_reply("lena", 2))
    assert f"Several license changes start with {reference}." in refusal
    assert "Type more of the reference" in refusal

    assert bot.command("lena", f"status {ids[0][:12]}") == 200
    assert "Licenses assigned" in text_of(bot.wait_reply("lena", 3))
    assert tenant.all_license_writes() == writes


def test_a_reference_that_cannot_be_one_is_a_usage_error(bot: SlackBot) -> None:
    assert bot.command("lena", "status e5") == 200
    reply = text_of(bot.wait_reply("lena"))
    assert "“e5” is not a change reference." in reply
    assert "/license status REF" in reply

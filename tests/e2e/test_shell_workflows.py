"""The walkthroughs of docs/usage.md, as scripted shell sessions on the demo tenant: buy a subscription,
switch plans for everyone, upgrade from Office 365 E4, cancel a subscription with a second admin's
approval."""

from __future__ import annotations

import io
import re
from pathlib import Path

from sqlalchemy import update

from bot.bootstrap import bootstrap
from bot.settings import Settings
from bot.shell import run_shell
from domain.model import PurchaseChannel
from storage.database import create_engine, session_factory
from storage.orm import SimSubscriptionRow
from tests.e2e.test_shell import _skus


def _run(tmp_path: Path, script: list[str]) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'walk.db'}"
    settings = Settings(database_url=url, sim_activation_seconds=0.0)
    out = io.StringIO()
    run_shell(settings, demo=False, as_user="bill@contoso.com", lines=script, out=out)
    return out.getvalue(), url


def test_a_card_purchase_is_active_at_once_an_invoice_one_waits_and_e4_is_not_sold(tmp_path: Path) -> None:
    script = ["/subscription buy E5 2", "/subscription buy E5 3 invoice", "/subscription buy E4 5"]
    text, _ = _run(tmp_path, script)

    assert "Ordered 2 × Office 365 E5 by card: the new subscription is " in text
    assert "Office 365 E5 is listed and active (2 licenses)" in text
    assert "Ordered 3 × Office 365 E5 by invoice: the new subscription is " in text
    assert "⏸️ *Wait until listed and active* · waiting for activation" in text
    assert re.search(r"Office 365 E5 \(3 licenses\) is listed, not active yet: it is", text)
    assert "it is Pending: bought, and being set up. Likely reasons:" in text
    # The Buy and the Wait steps name the same last day of the credit check (R10), whatever today is.
    bought = re.findall(r"up to 2 business days: until (\w{3} \d{2} \w{3} \d{4}) end of day\.", text)
    waiting = re.findall(r"up to 2 business days, until (\w{3} \d{2} \w{3} \d{4}) end of day;", text)
    assert "(R10)" not in text
    assert len(bought) == 1
    assert waiting == bought
    assert "Microsoft no longer sells Office 365 E4: no new subscription, no more licenses" in text
    assert "Buy Office 365 E5 or Microsoft 365 E5 instead" in text
    assert "use `/subscription upgrade E4 E5`" in text
    assert "Traceback" not in text


def test_switch_everyone_from_e3_to_e5_buying_the_missing_seats(tmp_path: Path) -> None:
    # The first poll of the demo posts the F3 renewal alert (R22): polled first, so that the "1"
    # after the switch's poll presses the switch's button, not the alert's.
    text, url = _run(tmp_path, [":tick", "/subscription switch E3 E5 all", "1", "1", ":tick", "1"])

    # Ivan, Yara and Zoe keep E3 from the group (and their seat): 11 move, so 11 E5 seats are needed.
    assert "need 11, 7 free: buy 4 more" in text
    # Ivan, Yara and Zoe get E3 only from the group All Staff E3: they stay, so the unused seats
    # are offered rather than a cancellation (R21, R12).
    assert "Moved 11 of 11 users to Office 365 E5." in text
    assert "[1] Remove the unused licenses (danger)  [2] Not now" in text
    for user in ("alice", "bob", "carol", "victor"):
        assert _skus(url, f"{user}@contoso.com") == {"ENTERPRISEPREMIUM"}
    assert "Traceback" not in text


def test_upgrade_from_e4_offers_the_redundant_add_on(tmp_path: Path) -> None:
    text, url = _run(tmp_path, ["/subscription upgrade E4 E5", "1", "1", "1"])

    assert "Moved 5 of 5 users to Office 365 E5." in text
    assert "redundant now: Microsoft 365 Audio Conferencing" in text
    assert _skus(url, "ken@contoso.com") == {"ENTERPRISEPREMIUM"}


def test_cancel_needs_another_billing_admins_approval(tmp_path: Path) -> None:
    script = [
        "/subscription cancel E4",
        "1",
        ":as lena@contoso.com",
        "1",
        ":as beatrice@contoso.com",
        "2",
    ]
    text, _ = _run(tmp_path, script)

    assert "Lena Fischer may not approve a destructive subscription change." in text
    assert "Approved by beatrice@contoso.com, confirming that 5 users lose access." in text
    assert "is no longer active: Suspended." in text


def test_an_e4_bought_through_a_partner_is_refused_with_whom_to_contact(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'walk.db'}"
    bootstrap(Settings(database_url=url)).engine.dispose()  # migrate and seed the demo tenant
    engine = create_engine(url)
    with session_factory(engine)() as session:
        session.execute(
            update(SimSubscriptionRow)
            .where(SimSubscriptionRow.sku_id == "1392051d-0cb9-4b7a-88d5-621fee5e8711")
            .values(purchase_channel=PurchaseChannel.PARTNER.value)
        )
        session.commit()
    engine.dispose()

    text, _ = _run(tmp_path, ["/subscription upgrade E4 E5"])

    assert "partner" in text.lower()
    assert "R14" not in text
    assert "Moved" not in text
    assert _skus(url, "ken@contoso.com") == {"ENTERPRISEWITHSCAL", "MCOMEETADV"}

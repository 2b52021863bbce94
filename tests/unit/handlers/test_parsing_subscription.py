"""The `/subscription` workflow forms: buy, seats, switch, upgrade, cancel, status."""

from __future__ import annotations

import pytest

from domain.errors import InvalidCommand
from handlers.parsing import (
    ParsedBuy,
    ParsedCancel,
    ParsedSeats,
    ParsedStatus,
    ParsedSwitch,
    ParsedUpgrade,
    Target,
    TargetKind,
    parse_subscription,
)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("buy E5 10", ParsedBuy("E5", 10)),
        ("buy Office 365 E5 10 invoice", ParsedBuy("Office 365 E5", 10, invoice=True)),
        ("BUY e5 3 INVOICE", ParsedBuy("e5", 3, invoice=True)),
        ("seats E5 +5", ParsedSeats("E5", 5)),
        ("seats E3 -3", ParsedSeats("E3", -3)),
        ("switch E3 E5", ParsedSwitch("E3", "E5")),
        ("switch E3 E5 all", ParsedSwitch("E3", "E5")),
        ("switch E3 E5 invoice", ParsedSwitch("E3", "E5", invoice=True)),
        (
            "switch E3 E5 <@U0ALICE|alice> bob@contoso.com",
            ParsedSwitch(
                "E3",
                "E5",
                (
                    Target(TargetKind.MENTION, "U0ALICE", "alice"),
                    Target(TargetKind.ADDRESS, "bob@contoso.com"),
                ),
            ),
        ),
        ("switch E3 E5 has:E3", ParsedSwitch("E3", "E5", (Target(TargetKind.HOLDERS, "E3"),))),
        ("upgrade E4 E5", ParsedUpgrade("E4", "E5")),
        ("upgrade E4 E5 invoice", ParsedUpgrade("E4", "E5", invoice=True)),
        ("cancel E3", ParsedCancel("E3")),
        ("cancel Office 365 E3", ParsedCancel("Office 365 E3")),
        ("status", ParsedStatus()),
        ("status 3f2a9c", ParsedStatus("3f2a9c")),
    ],
)
def test_workflow_forms_parse(text: str, parsed: object) -> None:
    assert parse_subscription(text) == parsed


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("buy E5", "Say which product and how many licenses to buy."),
        ("buy E5 ten", "“ten” is not a number of licenses."),
        ("buy E5 0", "Buy between 1 and 1,000,000 licenses, not 0."),
        ("buy <@U0ALICE|alice> 3", "is not a product."),
        ("seats E5 5", "“5” is not a change of licenses."),
        ("seats E5 +0", "“+0” is not a change of licenses."),
        ("seats +5", "Say which product"),
        ("switch E3", "Say which plan to switch from and which to switch to."),
        ("switch E3 E5 alice", "“alice” is not a user."),
        ("switch E3 E5 <!channel>", "cannot be a target"),
        ("upgrade E4", "Say the plan to upgrade from (E4)"),
        ("cancel", "Say which subscription to cancel"),
        ("status a b", "takes at most one workflow id"),
    ],
)
def test_workflow_forms_refuse_with_the_usage(text: str, problem: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        parse_subscription(text)
    assert problem in refused.value.problem
    assert "/subscription" in (refused.value.usage or "")

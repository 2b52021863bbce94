"""`/license reclaim [inactive DAYS]` and `/license report [PRODUCT | has:PRODUCT | group:NAME | all]`."""

from __future__ import annotations

import pytest

from domain.errors import InvalidCommand
from handlers.parsing import ParsedReclaim, ParsedReport, parse_license


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reclaim", ParsedReclaim()),
        ("reclaim inactive 90", ParsedReclaim(90)),
        ("RECLAIM Inactive 3650", ParsedReclaim(3650)),
        ("report", ParsedReport()),
        ("report all", ParsedReport(include_unlicensed=True)),
        ("report E3", ParsedReport(product="E3")),
        ("report has:E3", ParsedReport(product="E3")),
        ("report Office 365 E3", ParsedReport(product="Office 365 E3")),
        ('report group:"Sales team"', ParsedReport(group="Sales team")),
    ],
)
def test_reclaim_and_report_forms(text: str, expected: object) -> None:
    assert parse_license(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("reclaim inactive", "Say after how many days"),
        ("reclaim inactive 0", "a whole number of days from 1 to 3,650"),
        ("reclaim inactive 90 days", "Say after how many days"),
        ("reclaim inactive -5", "Say after how many days"),
        ("reclaim everyone", "takes no “everyone”"),
        ("report <@U123|alice>", "not people"),
        ("report has:", "Say which product"),
        ("report group:", "Say which group"),
    ],
)
def test_wrong_reclaim_or_report_says_what_is_wrong_with_the_usage(text: str, problem: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        parse_license(text)
    assert problem in refused.value.problem
    assert refused.value.usage

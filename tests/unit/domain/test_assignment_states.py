"""A license Microsoft 365 holds in an error state reads as the rule it breaks: the same domain error,
with the same explanation and fix, in `/license show` as when the rule refuses a change up front."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from domain.application.results import UserOverview
from domain.assignment_states import assignment_state_error
from domain.errors import (
    DomainError,
    MissingServiceDependency,
    NotEnoughSeats,
    ProhibitedInUsageLocation,
    ServicePlanConflict,
)
from domain.model import AssignmentError, User
from handlers.blocks import user_overview
from handlers.blocks.text import escape
from tests.fakes import SKU_E3, SKU_E5, SKU_F3, make_product, make_user

E3 = make_product("ENTERPRISEPACK", seats=25, consumed=20)
E5 = make_product("ENTERPRISEPREMIUM", seats=10, consumed=10)
F3 = make_product("DESKLESSPACK", seats=5, consumed=5)
PRODUCTS = {p.sku_id: p for p in (E3, E5, F3)}
CAROL = make_user("carol", SKU_E3, SKU_F3, display_name="Carol Jones", usage_location="CU")


def _with_error(user: User, sku_id: str, error: str) -> User:
    return replace(user, assignment_errors=(AssignmentError(sku_id, error),))


@pytest.mark.parametrize(
    ("code", "sku_id", "expected"),
    [
        ("CountViolation", SKU_E5, NotEnoughSeats("E5", 1, 0, name="Office 365 E5")),
        ("ProhibitedInUsageLocationViolation", SKU_E5, ProhibitedInUsageLocation("Carol Jones", "CU")),
        (
            "DependencyViolation",
            SKU_E5,
            MissingServiceDependency("Carol Jones", "Microsoft 365 reports it on Office 365 E5"),
        ),
        # F3's MCOIMP and E3's MCOSTANDARD cannot be on one user (R6): F3, the one in error, is named last.
        (
            "MutuallyExclusiveViolation",
            SKU_F3,
            ServicePlanConflict(
                "Carol Jones",
                "Skype for Business Online (Plan 2)",
                "Office 365 E3",
                "Skype for Business Online (Plan 1)",
                "Office 365 F3",
            ),
        ),
    ],
)
def test_each_error_state_is_the_rules_own_error(code: str, sku_id: str, expected: DomainError) -> None:
    found = assignment_state_error(CAROL, AssignmentError(sku_id, code), PRODUCTS)
    assert found is not None
    assert (type(found), found.message, found.rule) == (type(expected), expected.message, expected.rule)


@pytest.mark.parametrize("code", ["UniquenessViolation", "Other"])
def test_errors_no_rule_explains_are_left_as_microsoft_names_them(code: str) -> None:
    assert assignment_state_error(CAROL, AssignmentError(SKU_E3, code), PRODUCTS) is None


def test_license_show_explains_an_error_state_with_the_rules_fix() -> None:
    carol = _with_error(CAROL, SKU_F3, "MutuallyExclusiveViolation")
    body = json.dumps(user_overview(UserOverview(carol, PRODUCTS)).to_dict(), ensure_ascii=False)
    conflict = ServicePlanConflict(
        "Carol Jones",
        "Skype for Business Online (Plan 2)",
        "Office 365 E3",
        "Skype for Business Online (Plan 1)",
        "Office 365 F3",
    )
    assert "MutuallyExclusiveViolation" in body
    assert json.dumps(escape(conflict.problem), ensure_ascii=False)[1:-1] in body
    assert json.dumps(escape(conflict.fix), ensure_ascii=False)[1:-1] in body
    assert "Rule R6" not in body


def test_license_show_keeps_an_unexplained_error_as_its_code() -> None:
    carol = _with_error(CAROL, SKU_E3, "UniquenessViolation")
    body = json.dumps(user_overview(UserOverview(carol, PRODUCTS)).to_dict(), ensure_ascii=False)
    assert "UniquenessViolation" in body
    assert "Rule" not in body.split("UniquenessViolation", 1)[1].split("Seats left count")[0]

"""Every refusal says what is wrong and how to fix it (STYLE.md habit 6, DESIGN.md §3)."""

from __future__ import annotations

import re

import pytest

from domain import errors
from domain.errors import (
    DomainError,
    LicenseNotHeld,
    NotEnoughSeats,
    NothingToChange,
    SeatsInUse,
    UnknownProduct,
    UsersStillLicensed,
)

EVERY_ERROR: list[DomainError] = [
    errors.InvalidCommand("No such form.", "/license help"),
    errors.NotAuthorized("Bob", "remove licenses", ["License administrator"]),
    errors.UnknownRequester("U123"),
    errors.SignInRequired("Go to https://microsoft.com/devicelogin and enter the code ABC."),
    errors.AccountRefused("This Slack account is a guest.", "Ask a full member."),
    errors.UnknownUser("zed"),
    errors.AmbiguousUser("al", ["alice@contoso.com", "alan@contoso.com"]),
    errors.OutsideOrganization("eve@fabrikam.com", ["contoso.com"]),
    errors.UnknownProduct("E7"),
    errors.AmbiguousProduct("E5", [("ENTERPRISEPREMIUM", "Office 365 E5"), ("SPE_E5", "Microsoft 365 E5")]),
    errors.UnknownServicePlan("Swey", "Office 365 E5", ["Sway", "Teams"]),
    errors.NotAssignable("Office 365 Extra File Storage", "Company"),
    errors.NoUsageLocation("Nora Lee"),
    errors.NotEnoughSeats("E5", 3, 1, name="Office 365 E5"),
    errors.ServicePlanConflict("Alice", "MCOIMP", "Office 365 F3", "MCOSTANDARD", "Office 365 E3"),
    errors.LicenseNotHeld("Alice", "Office 365 E5", ["Office 365 E3"]),
    errors.LicenseNotHeld("Carol", "Office 365 E5"),
    errors.ChangeConflict("Alice"),
    errors.ChangeNotPending("applied"),
    errors.IllegalTransition("A change set", "applied", "confirmed"),
    errors.DirectoryUnavailable("timeout"),
    errors.StateUnavailable(),
    errors.UnknownWorkflow("wf1"),
    errors.UnknownApproval("ap1"),
    errors.UnknownTask("t1"),
    errors.UnknownChange("e54d51b4"),
    errors.AmbiguousChange("e54d51"),
    errors.StepNotOpen("Buy", "done"),
    errors.ApprovalNotPending("approved", "Gina"),
    errors.ApproverNotAllowed("Lena", "approve", ["Global administrator"]),
    errors.SubscriptionNotActive("Office 365 E4", "Disabled"),
    errors.AmbiguousSubscription("Office 365 E3", ["s1", "s2"]),
    errors.SeatsInUse("Office 365 E3", 25, 20, 10),
    errors.UpgradeNotDirect("Office 365 E4", "partner"),
    errors.UsersStillLicensed("Office 365 E3", 2, ["Alice", "Bob"]),
    errors.SignInActivityUnavailable("the tenant has no Microsoft Entra ID P1 or P2 license"),
    errors.UndoNotAvailable("This change can no longer be undone."),
    errors.MissingServiceDependency("Alice", "Sway needs SharePoint"),
    errors.ProhibitedInUsageLocation("Alice", "KP"),
    errors.LicenseInherited("Ivan Petrov", "Office 365 E3", ["All Staff E3"]),
    errors.LicenseInherited("Ivan Petrov", "Office 365 E3", ["All Staff E3"], services=True),
]


def test_every_error_class_of_the_domain_is_checked_here() -> None:
    classes = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, DomainError) and value is not DomainError
    }
    checked = {type(error) for error in EVERY_ERROR}
    # NothingToChange is raised with a fix where it means "do this first", and is also how a user
    # who already is as asked is reported, where nothing needs fixing.
    assert classes - checked == {NothingToChange}


@pytest.mark.parametrize("error", EVERY_ERROR, ids=lambda error: type(error).__name__)
def test_every_refusal_says_how_to_fix_it(error: DomainError) -> None:
    assert error.problem.strip()
    assert error.fix.strip()
    assert error.fix in error.message


def test_unknown_product_suggestions_read_as_a_sentence() -> None:
    error = UnknownProduct("E7", ["Office 365 E5 (E5)", "Office 365 E4 (E4)", "Office 365 E3 (E3)"])

    assert error.fix == "Did you mean Office 365 E5 (E5), Office 365 E4 (E4) or Office 365 E3 (E3)?"


def test_not_enough_seats_names_the_product_as_admins_know_it_and_buys_by_its_short_name() -> None:
    error = NotEnoughSeats("E5", 3, 1, name="Office 365 E5")

    assert error.problem == "Not enough Office 365 E5 licenses: need 3, 1 free."
    assert error.fix == "Buy 2 more (`/subscription seats E5 +2`), or free some up."
    assert error.product == "E5"


@pytest.mark.parametrize("error", EVERY_ERROR, ids=lambda error: type(error).__name__)
def test_no_refusal_shows_its_rule_number(error: DomainError) -> None:
    """The rule (R1…R24) stays an attribute for the audit and the tests; admins read words."""
    assert not re.search(r"\bR\d+\b", error.message)


def test_what_was_typed_is_quoted_as_typed_with_invisible_characters_named() -> None:
    error = UnknownProduct("E\u200b5")

    assert error.problem == "The tenant has no product “E[U+200B]5”."
    assert "\\u" not in error.message


def test_counts_read_in_the_right_number() -> None:
    assert SeatsInUse("Office 365 E3", 25, 25, 1).problem.startswith("Office 365 E3 cannot lose 1 license:")
    assert UsersStillLicensed("Office 365 E3", 1, ["Alice"]).problem.startswith("1 user would lose")


def test_a_license_not_held_is_nothing_to_change() -> None:
    assert isinstance(LicenseNotHeld("Alice", "Office 365 E5"), NothingToChange)

"""The `/license` and `/subscription` grammar (DESIGN.md §3): every form, every target, hostile text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.changes import ChangeKind
from domain.errors import InvalidCommand
from handlers.grammar.license import (
    ParsedChange,
    ParsedChangeLookup,
    ParsedForm,
    ParsedServices,
    ParsedShow,
    parse_license,
)
from handlers.grammar.subcommands import ParsedHelp
from handlers.grammar.subscription import ParsedSubscriptionList, parse_subscription
from handlers.grammar.targets import Target, TargetKind
from handlers.grammar.usage import LICENSE_USAGE, SUBSCRIPTION_USAGE
from handlers.grammar.words import MAX_TEXT_LENGTH

ALICE = Target(TargetKind.MENTION, "U0ALICE", "alice")
BOB = Target(TargetKind.MENTION, "U0BOB")


def change(text: str) -> ParsedChange:
    parsed = parse_license(text)
    assert isinstance(parsed, ParsedChange)
    return parsed


def refused(text: str, *, subscription: bool = False) -> InvalidCommand:
    with pytest.raises(InvalidCommand) as caught:
        (parse_subscription if subscription else parse_license)(text)
    return caught.value


# --- the forms --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("assign <@U0ALICE|alice> E5", ChangeKind.ASSIGN),
        ("replace <@U0ALICE|alice> E5", ChangeKind.REPLACE),
        ("remove <@U0ALICE|alice> E5", ChangeKind.REMOVE),
        ("ASSIGN <@U0ALICE|alice> E5", ChangeKind.ASSIGN),
    ],
)
def test_each_change_form_names_its_kind_targets_and_product(text: str, kind: ChangeKind) -> None:
    assert change(text) == ParsedChange(kind, (ALICE,), "E5")


def test_several_users_then_a_product_of_several_words() -> None:
    parsed = change("assign <@U0ALICE|alice> <@U0BOB> Office 365 E5")
    assert parsed.targets == (ALICE, BOB)
    assert parsed.product == "Office 365 E5"


def test_show_one_user() -> None:
    assert parse_license("show <@U0ALICE|alice>") == ParsedShow(ALICE)
    assert parse_license("show alice@contoso.com") == ParsedShow(
        Target(TargetKind.ADDRESS, "alice@contoso.com")
    )


@pytest.mark.parametrize("text", ["help", "HELP"])
def test_help_is_the_help(text: str) -> None:
    assert parse_license(text) == ParsedHelp("/license")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_no_text_is_the_form(text: str) -> None:
    assert parse_license(text) == ParsedForm()


def test_help_on_one_form() -> None:
    assert parse_license("help replace") == ParsedHelp("/license", "replace")
    assert parse_license("help REPLACE") == ParsedHelp("/license", "replace")


def test_help_on_a_topic_there_is_none_of_says_so_and_lists_the_topics() -> None:
    error = refused("help bogus")

    assert error.problem == "There is no help topic “bogus”."
    assert error.fix == (
        "The topics are: assign, replace, remove, services, show, signout, reclaim, report, status, "
        "undo, help."
    )
    assert "/license help [FORM]" in error.usage


@pytest.mark.parametrize(
    ("text", "meant", "subscription"),
    [("help servics", "/license help services", False), ("help swich", "/subscription help switch", True)],
)
def test_help_on_a_misspelled_topic_suggests_the_closest(text: str, meant: str, subscription: bool) -> None:
    error = refused(text, subscription=subscription)

    assert error.fix.startswith(f"Did you mean `{meant}`? The topics are: ")


@pytest.mark.parametrize("typo", ["withot", "witout", "wihtout", "WITHOUTH"])
def test_a_misspelled_without_is_caught_not_taken_for_part_of_the_product(typo: str) -> None:
    error = refused(f"assign <@U0ALICE|alice> E5 {typo} Sway, Teams")

    assert error.problem == f"“{typo}” looks like a misspelled `without`."
    assert error.fix == "Did you mean `/license assign @alice E5 without Sway, Teams`?"


def test_a_word_only_somewhat_like_without_stays_part_of_the_product() -> None:
    assert change("assign <@U0ALICE|alice> Office 365 E5 with Teams").product == "Office 365 E5 with Teams"
    assert change("assign <@U0ALICE|alice> withot").product == "withot"


def test_subscription_list_and_help() -> None:
    assert parse_subscription("list") == ParsedSubscriptionList()
    assert parse_subscription("  LIST ") == ParsedSubscriptionList()
    assert parse_subscription("help") == ParsedHelp("/subscription")
    assert parse_subscription("") == ParsedHelp("/subscription")
    assert parse_subscription("help list") == ParsedHelp("/subscription", "list")


# --- targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "target"),
    [
        ("<@U0ALICE|alice>", Target(TargetKind.MENTION, "U0ALICE", "alice")),
        ("<@U0ALICE>", Target(TargetKind.MENTION, "U0ALICE")),
        ("<@W0ENTERPRISE|ent>", Target(TargetKind.MENTION, "W0ENTERPRISE", "ent")),
        ("<!subteam^S0SALES|@sales>", Target(TargetKind.USER_GROUP, "S0SALES", "@sales")),
        ("<!subteam^S0SALES>", Target(TargetKind.USER_GROUP, "S0SALES")),
        ("<mailto:carol@contoso.com|carol@contoso.com>", Target(TargetKind.ADDRESS, "carol@contoso.com")),
        ("carol@contoso.com", Target(TargetKind.ADDRESS, "carol@contoso.com")),
        (
            "carol.jones@contoso.onmicrosoft.com",
            Target(TargetKind.ADDRESS, "carol.jones@contoso.onmicrosoft.com"),
        ),
        ("has:E3", Target(TargetKind.HOLDERS, "E3")),
        ("HAS:ENTERPRISEPACK", Target(TargetKind.HOLDERS, "ENTERPRISEPACK")),
    ],
)
def test_every_target_form(word: str, target: Target) -> None:
    assert change(f"assign {word} E5").targets == (target,)


def test_the_same_user_twice_counts_once() -> None:
    parsed = change("assign <@U0ALICE|alice> <@U0ALICE> Carol@Contoso.com carol@contoso.com E5")
    assert [t.value for t in parsed.targets] == ["U0ALICE", "Carol@Contoso.com"]


def test_target_shown_names() -> None:
    assert ALICE.shown == "@alice"
    assert Target(TargetKind.USER_GROUP, "S1", "@sales").shown == "@sales"
    assert Target(TargetKind.HOLDERS, "E3").shown == "has:E3"
    assert BOB.shown == "U0BOB"


# --- without ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    ["without Sway,Teams", "without Sway, Teams", "WITHOUT Sway ,Teams,", "without  Sway,,Teams, Sway"],
)
def test_without_variants(tail: str) -> None:
    parsed = change(f"assign <@U0ALICE|alice> Office 365 E5 {tail}")
    assert parsed.product == "Office 365 E5"
    assert parsed.turn_off == ("Sway", "Teams")


def test_without_keeps_service_names_of_several_words() -> None:
    assert change("replace <@U0ALICE> E5 without Microsoft Teams, Sway").turn_off == (
        "Microsoft Teams",
        "Sway",
    )


def test_without_needs_services() -> None:
    assert "without" in refused("assign <@U0ALICE> E5 without").problem
    assert "without" in refused("assign <@U0ALICE> E5 without , ,").problem


def test_remove_takes_no_without() -> None:
    assert "assign and replace" in refused("remove <@U0ALICE> E3 without Sway").problem


def test_slack_escapes_are_undone_in_products_and_services() -> None:
    parsed = change("assign <@U0ALICE> Mobility &amp; Security without Sway &lt;x&gt;")
    assert parsed.product == "Mobility & Security"
    assert parsed.turn_off == ("Sway <x>",)


# --- malformed and hostile text ---------------------------------------------------------------


def test_unknown_subcommand_suggests_the_closest() -> None:
    error = refused("asign <@U0ALICE> E5")
    assert "asign" in error.problem
    assert "/license assign" in error.fix
    assert "/license assign" in error.usage


def test_unknown_subcommand_without_anything_close_lists_the_forms() -> None:
    error = refused("frobnicate")
    assert (
        "assign, replace, remove, services, show, signout, reclaim, report, status, undo, help" in error.fix
    )


@pytest.mark.parametrize(("typo", "meant"), [("servics", "services"), ("shwo", "show"), ("rmove", "remove")])
def test_typos_of_every_subcommand_are_suggested(typo: str, meant: str) -> None:
    assert f"Did you mean `/license {meant}`?" == refused(f"{typo} <@U0ALICE> E5").fix


def test_subscription_typos_suggest_forms_of_later_versions_too() -> None:
    assert "/subscription seats" in refused("seat E5 +5", subscription=True).fix


def test_subscription_unknown_subcommand_suggests_the_closest() -> None:
    assert "/subscription list" in refused("lsit", subscription=True).fix


@pytest.mark.parametrize("name", ["show"])
def test_subscription_forms_of_later_versions_are_refused_honestly(name: str) -> None:
    error = refused(f"{name} E5 10", subscription=True)
    assert "not available" in error.problem
    assert "/subscription list" in error.fix


def test_services_names_one_person_and_a_product() -> None:
    assert parse_license("services <@U0ALICE|alice> Office 365 E5") == ParsedServices(ALICE, "Office 365 E5")
    assert parse_license("services carol@contoso.com E3") == ParsedServices(
        Target(TargetKind.ADDRESS, "carol@contoso.com"), "E3"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("services", "Say whose services"),
        ("services <@U0ALICE>", "Say of which product"),
        ("services <@U0ALICE> <@U0BOB> E5", "takes one person"),
        ("services has:E3 E5", "takes one person, not has:E3"),
        ("services <!subteam^S1|@team> E5", "takes one person, not @team"),
        ("services <@U0ALICE> E5 without Sway", "takes no `without`"),
        ("services E5", "“E5” is not a user"),
    ],
)
def test_services_mistakes_are_explained_with_the_usage(text: str, problem: str) -> None:
    error = refused(text)
    assert problem in error.problem
    assert "/license services @user PRODUCT" in error.usage


def test_subscription_list_takes_nothing_more() -> None:
    assert "nothing after" in refused("list E5", subscription=True).problem


def test_users_before_the_subcommand_are_explained() -> None:
    assert "what to do first" in refused("<@U0ALICE> E5").problem


def test_missing_product() -> None:
    error = refused("assign <@U0ALICE> <@U0BOB>")
    assert "which product" in error.problem
    assert "/license assign" in error.usage


def test_missing_users() -> None:
    assert "whose licenses" in refused("assign E5").problem
    assert "whose licenses" in refused("replace").problem


def test_users_after_the_product_are_refused() -> None:
    assert "before the product" in refused("assign E5 <@U0ALICE>").problem
    assert "before the product" in refused("assign <@U0BOB> E5 alice@contoso.com").problem


@pytest.mark.parametrize("token", ["<!channel>", "<!here>", "<!everyone>", "<!here|here>"])
def test_broadcast_mentions_cannot_be_targets(token: str) -> None:
    assert "cannot be a target" in refused(f"assign {token} E5").problem


@pytest.mark.parametrize(
    "token", ["<https://evil.example|click>", "<http://x>", "<#C0GENERAL|general>", "<!date^123^{date}|x>"]
)
def test_links_channels_and_other_markup_are_refused(token: str) -> None:
    refused(f"assign {token} E5")
    refused(f"assign <@U0ALICE> {token}")


def test_a_plain_at_name_is_not_a_mention() -> None:
    error = refused("assign @alice E5")
    assert "@alice" in error.problem
    assert "email" in error.fix


@pytest.mark.parametrize("word", ["alice@", "@contoso.com", "a@b", "a@@b.com", "<mailto:nobody|x>"])
def test_malformed_addresses(word: str) -> None:
    refused(f"assign {word} E5")


def test_has_needs_a_product() -> None:
    assert "has:" in refused("assign has: E5").problem


def test_show_takes_exactly_one_person() -> None:
    assert "whose" in refused("show").problem
    assert "one person" in refused("show <@U0ALICE> <@U0BOB>").problem
    assert "one person" in refused("show <!subteam^S1|@sales>").problem
    assert "one person" in refused("show has:E3").problem
    assert "not a user" in refused("show E5").problem


def test_unbalanced_angle_brackets() -> None:
    refused("assign <@U0ALICE E5")
    refused("assign E5 >")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\u202e", "\u2066"])
def test_control_and_direction_characters_are_refused(char: str) -> None:
    error = refused(f"assign <@U0ALICE> E5{char}")
    assert "control character" in error.problem


def test_huge_text_is_refused_before_it_is_read() -> None:
    error = refused("assign " + "<@U0ALICE> " * 400 + "E5")
    assert f"{MAX_TEXT_LENGTH:,}" in error.problem
    assert len(refused("x" * 1_000_000).problem) < 200


def test_unicode_names_and_spaces_are_fine() -> None:
    parsed = change("assign\u00a0<@U0ALICE|ålice>\u3000Office\u00a0365 E5 without Ü")
    assert parsed.targets[0].label == "ålice"
    assert parsed.product == "Office 365 E5"
    assert parsed.turn_off == ("Ü",)


def test_usage_errors_carry_the_usage_of_their_form() -> None:
    error = refused("remove <@U0ALICE>")
    assert error.usage.startswith("/license remove")
    assert "/license assign" not in error.usage


# --- property: arbitrary text never raises anything but InvalidCommand ------------------------

_PIECES = st.sampled_from(
    [
        "assign", "replace", "remove", "show", "help", "services", "list", "without", ",", "has:", "has:E3",
        "<@U0ALICE|alice>", "<@U0BOB>", "<!subteam^S1|@x>", "<!channel>", "<mailto:a@b.co|a@b.co>", "<", ">",
        "&amp;", "&lt;", "a@b.co", "@", "E5", "Office 365", "\u202e", "\x00", " ", "\n", "|", "^", "!",
    ]
)  # fmt: skip
_TEXT = st.one_of(st.text(max_size=300), st.lists(_PIECES, max_size=30).map(" ".join))


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_arbitrary_text_only_ever_raises_invalid_command(text: str) -> None:
    for parse in (parse_license, parse_subscription):
        problem: InvalidCommand | None = None
        try:
            parse(text)
        except InvalidCommand as error:
            problem = error
        assert problem is None or (problem.problem and problem.usage)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, max_size=20).map(" ".join))
def test_parsed_changes_are_well_formed(text: str) -> None:
    try:
        parsed = parse_license(text)
    except InvalidCommand:
        return
    if isinstance(parsed, ParsedChange):
        assert parsed.targets
        assert parsed.product.strip()
        assert all(name.strip() for name in parsed.turn_off)


def test_the_manifest_usage_hint_names_every_license_subcommand() -> None:
    manifest = yaml.safe_load(
        (Path(__file__).resolve().parents[4] / "manifest.yml").read_text(encoding="utf-8")
    )
    (license_command,) = [c for c in manifest["features"]["slash_commands"] if c["command"] == "/license"]
    for subcommand in LICENSE_USAGE:
        assert subcommand in license_command["usage_hint"], f"{subcommand} is missing from the usage hint"


def test_the_manifest_usage_hint_names_every_subscription_subcommand() -> None:
    manifest = yaml.safe_load(
        (Path(__file__).resolve().parents[4] / "manifest.yml").read_text(encoding="utf-8")
    )
    (command,) = [c for c in manifest["features"]["slash_commands"] if c["command"] == "/subscription"]
    named = set(re.findall(r"[a-z]+", command["usage_hint"]))
    for subcommand in SUBSCRIPTION_USAGE:
        assert subcommand in named, f"{subcommand} is missing from the usage hint"
    # Slack's length limit for the hint is checked with the whole schema in test_manifest.py.


# --- change references ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status e54d51b4", ParsedChangeLookup("e54d51b4")),
        ("status `E54D51B4`", ParsedChangeLookup("e54d51b4")),
        ("undo e54d51b4", ParsedChangeLookup("e54d51b4", undo=True)),
        (
            "UNDO e54d51b453984b4b962356448b92c9b7",
            ParsedChangeLookup("e54d51b453984b4b962356448b92c9b7", True),
        ),
    ],
)
def test_a_change_is_named_by_its_reference_case_insensitively(
    text: str, expected: ParsedChangeLookup
) -> None:
    assert parse_license(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("undo", "Say which change: its reference is shown under its result (e.g. `e54d51b4`)."),
        ("status e54d51b4 more", "`/license status` takes one change reference."),
        ("undo e5", "“e5” is not a change reference."),
        ("undo zzzzzzzz", "“zzzzzzzz” is not a change reference."),
        ("status e54d\u200b51b4", "“e54d[U+200B]51b4” is not a change reference."),
    ],
)
def test_a_reference_that_cannot_be_one_is_refused_with_the_usage(text: str, problem: str) -> None:
    error = refused(text.encode().decode("unicode_escape") if "\\u" in text else text)
    assert error.problem == problem
    assert "/license" in error.usage

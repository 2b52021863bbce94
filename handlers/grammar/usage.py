"""The forms of `/license` and `/subscription` as the help and the usage errors show them."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.ids import LICENSE_COMMAND, SUBSCRIPTION_COMMAND

__all__ = [
    "LICENSE_USAGE",
    "SUBSCRIPTION_USAGE",
    "Usage",
    "usage_text",
]


@dataclass(frozen=True, slots=True)
class Usage:
    """One form of a command, as the help and the usage errors show it."""

    syntax: str
    summary: str
    examples: tuple[str, ...] = ()


LICENSE_USAGE: dict[str, Usage] = {
    "assign": Usage(
        f"{LICENSE_COMMAND} assign @user… PRODUCT [without SERVICE, …]",
        "Add a license to what the users already have (nothing they hold is taken away).",
        (
            f"{LICENSE_COMMAND} assign @alice @bob E5",
            f"{LICENSE_COMMAND} assign @sales-team Office 365 E3 without Sway, Teams",
            f"{LICENSE_COMMAND} assign carol@contoso.com E5",
            f'{LICENSE_COMMAND} assign group:"All Staff" E5 (the group\'s own license, after a preview)',
        ),
    ),
    "replace": Usage(
        f"{LICENSE_COMMAND} replace @user… PRODUCT [without SERVICE, …]",
        "Replace every license the users hold with this one, in one step per user "
        "(shows a preview to confirm first).",
        (
            f"{LICENSE_COMMAND} replace @alice E5",
            f"{LICENSE_COMMAND} replace has:E3 E5",
            f'{LICENSE_COMMAND} replace group:"All Staff" E5',
        ),
    ),
    "remove": Usage(
        f"{LICENSE_COMMAND} remove @user… PRODUCT",
        "Take a license away (shows a preview to confirm first).",
        (f"{LICENSE_COMMAND} remove @alice E3", f"{LICENSE_COMMAND} remove group:Sales E3"),
    ),
    "services": Usage(
        f"{LICENSE_COMMAND} services @user PRODUCT",
        "A form with a checkbox per service of the user's license: tick or untick, save, and only "
        "what you changed is changed.",
        (f"{LICENSE_COMMAND} services @alice E5", f"{LICENSE_COMMAND} services carol@contoso.com E3"),
    ),
    "show": Usage(
        f"{LICENSE_COMMAND} show @user",
        "A user's licenses, the services turned off, assignment errors and the seats left.",
        (
            f"{LICENSE_COMMAND} show @alice",
            f"{LICENSE_COMMAND} show alice@contoso.com",
            f'{LICENSE_COMMAND} show group:"All Staff" (its licenses, members and members in error)',
        ),
    ),
    "signout": Usage(
        f"{LICENSE_COMMAND} signout",
        "Forget your Microsoft sign-in (where licensebot asks admins to sign in with Microsoft); "
        "your next change asks you to sign in again.",
        (f"{LICENSE_COMMAND} signout",),
    ),
    "reclaim": Usage(
        f"{LICENSE_COMMAND} reclaim [inactive DAYS]",
        "Take back the licenses of disabled accounts; with `inactive 90`, also of people who have not "
        "signed in for 90 days (shows a preview to confirm first, with Undo after).",
        (f"{LICENSE_COMMAND} reclaim", f"{LICENSE_COMMAND} reclaim inactive 90"),
    ),
    "report": Usage(
        f"{LICENSE_COMMAND} report [PRODUCT | has:PRODUCT | group:NAME | all]",
        "A CSV file of users and their licenses, in the thread: every licensed user, the holders of "
        "a product, or `all` users (the unlicensed too).",
        (f"{LICENSE_COMMAND} report", f"{LICENSE_COMMAND} report E3", f"{LICENSE_COMMAND} report all"),
    ),
    "status": Usage(
        f"{LICENSE_COMMAND} status REF",
        "The result of a license change again, by the reference shown under it (e.g. `e54d51b4`).",
        (f"{LICENSE_COMMAND} status e54d51b4",),
    ),
    "undo": Usage(
        f"{LICENSE_COMMAND} undo REF",
        "Put everyone a change wrote to back to what they held before (shows a preview to confirm "
        "first), while its result says undo works.",
        (f"{LICENSE_COMMAND} undo e54d51b4",),
    ),
    "help": Usage(
        f"{LICENSE_COMMAND} help [FORM]",
        f"This help, or the help of one form. `{LICENSE_COMMAND}` alone opens a form to fill in.",
        (f"{LICENSE_COMMAND} help replace", LICENSE_COMMAND),
    ),
}

SUBSCRIPTION_USAGE: dict[str, Usage] = {
    "list": Usage(
        f"{SUBSCRIPTION_COMMAND} list",
        "Every product of the tenant with its seats used and free, and its subscriptions' status.",
        (f"{SUBSCRIPTION_COMMAND} list",),
    ),
    "buy": Usage(
        f"{SUBSCRIPTION_COMMAND} buy PRODUCT SEATS [invoice]",
        "Buy a subscription; the bot polls until it is active (an invoice purchase may wait for a "
        "credit check).",
        (f"{SUBSCRIPTION_COMMAND} buy E5 10", f"{SUBSCRIPTION_COMMAND} buy E5 10 invoice"),
    ),
    "seats": Usage(
        f"{SUBSCRIPTION_COMMAND} seats PRODUCT +N|-N",
        "Add or remove licenses (never below what users hold).",
        (f"{SUBSCRIPTION_COMMAND} seats E5 +5", f"{SUBSCRIPTION_COMMAND} seats E3 -3"),
    ),
    "switch": Usage(
        f"{SUBSCRIPTION_COMMAND} switch FROM TO [@user… | has:PRODUCT | all] [invoice]",
        "Move users from one plan to another, step by step; everyone by default.",
        (
            f"{SUBSCRIPTION_COMMAND} switch E3 E5",
            f"{SUBSCRIPTION_COMMAND} switch E3 E5 @alice @bob",
        ),
    ),
    "upgrade": Usage(
        f"{SUBSCRIPTION_COMMAND} upgrade E4 TO [invoice]",
        "Upgrade from Office 365 E4: direct purchases only; users keep E4 until moved.",
        (f"{SUBSCRIPTION_COMMAND} upgrade E4 E5",),
    ),
    "cancel": Usage(
        f"{SUBSCRIPTION_COMMAND} cancel PRODUCT|CODE",
        "Cancel a subscription: you confirm, then another Global or Billing admin approves. When a "
        "product has several, the answer shows a code for each (the end of its id) to name it by.",
        (f"{SUBSCRIPTION_COMMAND} cancel E3",),
    ),
    "status": Usage(
        f"{SUBSCRIPTION_COMMAND} status [WORKFLOW]",
        "Where the workflows stand: those in flight and the latest finished, or one of them.",
        (f"{SUBSCRIPTION_COMMAND} status",),
    ),
    "help": Usage(
        f"{SUBSCRIPTION_COMMAND} help [FORM]",
        "This help, or the help of one form.",
        (f"{SUBSCRIPTION_COMMAND} help list", f"{SUBSCRIPTION_COMMAND} help switch"),
    ),
}

_USERS_HELP = (
    "Users: @mentions, @user-groups, email addresses or user principal names, "
    "or has:PRODUCT for everyone who holds a product (has:E3). "
    'A Microsoft Entra group\'s own license: group:NAME (quoted with spaces: group:"All Staff").'
)


def usage_text(command: str, subcommand: str | None = None) -> str:
    """The syntax of one form of a command, or of every form."""
    table = LICENSE_USAGE if command == LICENSE_COMMAND else SUBSCRIPTION_USAGE
    forms = [table[subcommand]] if subcommand in table else list(table.values())
    lines = [form.syntax for form in forms]
    if command == LICENSE_COMMAND and (subcommand is None or subcommand in {"assign", "replace", "remove"}):
        lines.append(_USERS_HELP)
    return "\n".join(lines)

"""Domain errors: each carries what is wrong and how to fix it, in words (STYLE.md habit 6).

The Slack edge renders `problem` and `fix`; it never invents an explanation of its own. `rule` (R1…R24
of DESIGN.md §2) is kept for the audit, the logs and the tests, and never shown to an admin.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.wording import plural, quoted

__all__ = [
    "AccountRefused",
    "AmbiguousChange",
    "AmbiguousProduct",
    "AmbiguousSubscription",
    "AmbiguousUser",
    "ApprovalNotPending",
    "ApproverNotAllowed",
    "ChangeConflict",
    "ChangeNotPending",
    "DirectoryUnavailable",
    "DomainError",
    "IllegalTransition",
    "InvalidCommand",
    "LicenseInherited",
    "MissingServiceDependency",
    "NoUsageLocation",
    "NotAssignable",
    "NotAuthorized",
    "NotEnoughSeats",
    "NothingToChange",
    "OutsideOrganization",
    "ProhibitedInUsageLocation",
    "SeatsInUse",
    "ServicePlanConflict",
    "SignInActivityUnavailable",
    "SignInRequired",
    "StepNotOpen",
    "SubscriptionNotActive",
    "UnknownApproval",
    "UnknownChange",
    "UnknownProduct",
    "UnknownRequester",
    "UnknownServicePlan",
    "UnknownTask",
    "UnknownUser",
    "UnknownWorkflow",
    "UpgradeNotDirect",
    "UsersStillLicensed",
]


def _either(names: Sequence[str], last: str = "or") -> str:
    """`A`, `A or B`, `A, B or C`: a short list in a sentence."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


_LEARN = "https://learn.microsoft.com/microsoft-365"
ASSIGN_LICENSES = ("Assign licenses to users", f"{_LEARN}/admin/manage/assign-licenses-to-users")
MOVE_USERS = (
    "Move users to a different subscription",
    f"{_LEARN}/commerce/subscriptions/move-users-different-subscription",
)
UPGRADE_FROM_E4 = (
    "Upgrade from an Office 365 E4 subscription",
    f"{_LEARN}/commerce/subscriptions/upgrade-from-office-365-e4",
)


class DomainError(Exception):
    """A refusal that an admin can act on."""

    rule: str = ""
    learn: tuple[str, str] | None = None
    """The Microsoft Learn page the rule comes from (title, address), shown as a link where it helps."""

    def __init__(self, problem: str, fix: str = "", *, rule: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        if rule is not None:
            self.rule = rule

    @property
    def message(self) -> str:
        parts = [self.problem]
        if self.fix:
            parts.append(self.fix)
        return " ".join(parts)

    def __str__(self) -> str:
        return self.message


class InvalidCommand(DomainError):
    """The text of a command could not be understood; `usage` shows the right form."""

    def __init__(self, problem: str, usage: str = "", fix: str = "") -> None:
        super().__init__(problem, fix or "Check the usage below and try again.")
        self.usage = usage


class NotAuthorized(DomainError):
    rule = "R16"

    def __init__(self, who: str, action: str, roles: Sequence[str], fix: str = "") -> None:
        wanted = " or ".join(roles)
        super().__init__(
            f"{who} may not {action}.",
            fix or f"This needs the {wanted} role in Microsoft 365; ask an admin who holds it.",
        )
        self.who = who
        self.action = action


class UnknownRequester(DomainError):
    rule = "R16"

    def __init__(self, slack_user: str) -> None:
        super().__init__(
            f"Your Slack account ({slack_user}) does not match any user of the Microsoft 365 tenant.",
            "Use the same email address in Slack as in Microsoft 365, or ask an admin to run the command.",
        )


class AccountRefused(DomainError):
    """R24: the Slack account may not act for anyone in the tenant (a guest, another organization's
    member, a bot or app, a deactivated account, an email Slack has not confirmed)."""

    rule = "R24"


class SignInRequired(AccountRefused):
    """R24, with the Microsoft sign-in: the Slack account is not bound to an Entra user yet."""

    def __init__(self, how: str) -> None:
        super().__init__(
            "Before your first change, sign in once with Microsoft, so that licensebot knows which "
            "Microsoft 365 user you are whatever your Slack profile says. Nothing was changed.",
            f"{how} Then run the command again.",
        )


class UnknownUser(DomainError):
    def __init__(self, key: str, suggestions: Sequence[str] = ()) -> None:
        fix = "Use an @mention, an email address or a user principal name of the tenant."
        if suggestions:
            fix = f"Did you mean {', '.join(suggestions)}? " + fix
        super().__init__(f"No user {quoted(key)} in the tenant.", fix)
        self.key = key


class AmbiguousUser(DomainError):
    def __init__(self, key: str, choices: Sequence[str]) -> None:
        super().__init__(
            f"{quoted(key)} matches several users: {', '.join(choices)}.",
            "Use the full email address or user principal name.",
        )


class OutsideOrganization(DomainError):
    rule = "R8"

    def __init__(self, address: str, domains: Sequence[str]) -> None:
        super().__init__(
            f"{address} is not in this organization: its domain is not one of the tenant's "
            f"verified domains ({', '.join(sorted(domains))}).",
            "Licenses and subscriptions cannot cross organizations; manage that user in its own tenant.",
        )


class UnknownProduct(DomainError):
    rule = "R1"

    def __init__(self, key: str, suggestions: Sequence[str] = (), known: Sequence[str] = ()) -> None:
        if suggestions:
            fix = f"Did you mean {_either(suggestions)}?"
        elif known:
            fix = f"The tenant has: {', '.join(known)}."
        else:
            fix = "Use `/subscription list` to see the products the tenant has."
        super().__init__(f"The tenant has no product {quoted(key)}.", fix)
        self.key = key
        self.suggestions = tuple(suggestions)


class AmbiguousProduct(DomainError):
    rule = "R1"

    def __init__(self, key: str, choices: Sequence[tuple[str, str]]) -> None:
        names = _either([label for _, label in choices])
        super().__init__(
            f"{quoted(key)} could mean several products: {names}.",
            "Say which one by its full name.",
        )
        self.key = key
        self.choices = tuple(choices)


class UnknownServicePlan(DomainError):
    rule = "R5"

    def __init__(self, key: str, product: str, known: Sequence[str]) -> None:
        super().__init__(
            f"{product} has no service {quoted(key)}.",
            f"Its services are: {', '.join(known)}.",
        )


class NotAssignable(DomainError):
    rule = "R3"

    def __init__(self, product: str, applies_to: str) -> None:
        super().__init__(
            f"{product} applies to the {applies_to.lower()}, not to users, so it cannot be "
            "assigned to a person.",
            "Choose a product that applies to users.",
        )


class NoUsageLocation(DomainError):
    rule = "R4"
    learn = ASSIGN_LICENSES

    def __init__(self, user: str) -> None:
        super().__init__(
            f"{user} has no usage location, and Microsoft 365 assigns no license without one.",
            "Set it in the admin center (Users > Active users > the user > Usage location) to a "
            "two-letter country code such as US or NL, then try again.",
        )
        self.user = user


class NotEnoughSeats(DomainError):
    """R2. `product` is what to type for the product in the command to buy more (its short name, as
    `catalog.short_name` gives it); `name`, the display name admins know, is what the message says."""

    rule = "R2"
    learn = ASSIGN_LICENSES

    def __init__(self, product: str, needed: int, available: int, *, name: str = "") -> None:
        missing = needed - available
        super().__init__(
            f"Not enough {name or product} licenses: need {needed}, {available} free.",
            f"Buy {missing} more (`/subscription seats {product} +{missing}`), or free some up.",
        )
        self.product = product
        self.name = name or product
        self.needed = needed
        self.available = available

    @property
    def missing(self) -> int:
        return self.needed - self.available


class ServicePlanConflict(DomainError):
    """R6. The plans are named as Microsoft's product table names them ("Skype for Business Online
    (Plan 1)"), which `without` also takes."""

    rule = "R6"
    learn = ASSIGN_LICENSES

    def __init__(self, user: str, plan_a: str, product_a: str, plan_b: str, product_b: str) -> None:
        same = product_a == product_b
        fix = (
            f"Turn off {plan_a} or {plan_b} (`without ...`)."
            if same
            else f"Turn off {plan_b} in {product_b} (`without {plan_b}`), or replace "
            f"{product_a} instead of adding to it (`/license replace`)."
        )
        super().__init__(
            f"{user} cannot have {plan_a} (from {product_a}) and {plan_b} (from {product_b}) "
            "at once: the two services are mutually exclusive.",
            fix,
        )
        self.plans = (plan_a, plan_b)
        self.products = (product_a, product_b)


class NothingToChange(DomainError):
    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem, fix)


class LicenseNotHeld(NothingToChange):
    """A license to remove that the user does not hold: say what they do hold."""

    def __init__(self, user: str, product: str, held: Sequence[str] = ()) -> None:
        fix = (
            f"{user} holds {_either(sorted(held), 'and')}: name one of those to remove it."
            if held
            else f"{user} holds no license, so there is nothing to remove."
        )
        super().__init__(f"{user} has no {product} license.", fix)
        self.user = user
        self.product = product


class LicenseInherited(DomainError):
    """R21: a license the user gets from groups cannot be removed from the user directly. (The rule
    is named here only: what admins read carries no rule number.)"""

    def __init__(self, user: str, product: str, groups: Sequence[str], *, services: bool = False) -> None:
        named = _either([f"the group {name}" for name in groups], "and") or "a group"
        target = f'group:"{groups[0]}"' if groups else "group:NAME"
        if services:
            problem = (
                f"{user} gets {product} from {named}: the services of a license from a group are "
                "set on the group, not on each member."
            )
            fix = (
                f"Change the services of the group's license (`/license assign {target} {product} "
                "without ...`), or assign the license to them directly as well."
            )
        else:
            problem = f"{user} gets {product} from {named}, so it cannot be removed from them directly."
            leave = _either(list(groups), "and") or "the group"
            fix = (
                f"Remove them from {leave} (in the Microsoft Entra admin center), or change the "
                f"group's license (`/license remove {target} ...` or `/license replace {target} ...`)."
            )
        super().__init__(problem, fix)


class ChangeConflict(DomainError):
    """The user changed between the preview and the write; nothing was applied for that user."""

    def __init__(self, user: str) -> None:
        super().__init__(
            f"{user}'s licenses changed since the preview, so the change was not applied.",
            "Run the command again to see a fresh preview.",
        )


class ChangeNotPending(DomainError):
    def __init__(self, state: str) -> None:
        super().__init__(
            f"This change is already {state}.",
            "Nothing more to do here; run the command again for a new change.",
        )
        self.state = state


class IllegalTransition(DomainError):
    def __init__(self, what: str, current: str, wanted: str) -> None:
        super().__init__(
            f"{what} cannot go from {current} to {wanted}.",
            "Nothing was changed. The message may be out of date: run the command again to see where "
            "it stands (`/subscription status` for a workflow).",
        )


class DirectoryUnavailable(DomainError):
    """The tenant directory (Graph or the database) could not be reached; nothing was changed."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Microsoft 365 could not be reached ({detail}); nothing was changed.",
            "Try again in a minute.",
        )


class StateUnavailable(DomainError):
    """licensebot's own database could not be used; the transaction was rolled back."""

    def __init__(self) -> None:
        super().__init__(
            "licensebot's database cannot be reached right now, so nothing was changed.",
            "Try again in a minute; if it keeps failing, ask your bot admins to check the database "
            "(DATABASE_URL; the bot's /readyz says whether it is reachable).",
        )


# --- subscription workflows (R2, R10–R14) ---------------------------------------------------------


class UnknownWorkflow(DomainError):
    def __init__(self, workflow_id: str) -> None:
        super().__init__(
            f"There is no workflow {quoted(workflow_id)}.",
            "Use `/subscription status` to see the workflows in flight.",
        )
        self.workflow_id = workflow_id


class UnknownChange(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(
            f"No license change has the reference `{reference}`.",
            "Use the reference shown under the change's result (8 letters and digits, e.g. `e54d51b4`); "
            "`/license show @user` shows what a user holds now.",
        )
        self.reference = reference


class AmbiguousChange(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(
            f"Several license changes start with `{reference}`.",
            "Type more of the reference, as it is shown under the change's result.",
        )
        self.reference = reference


class UnknownApproval(DomainError):
    def __init__(self, approval_id: str) -> None:
        super().__init__(
            f"There is no approval request {quoted(approval_id)}.", "It may have been withdrawn."
        )


class UnknownTask(DomainError):
    def __init__(self, task_id: str) -> None:
        super().__init__(
            f"There is no admin task {quoted(task_id)}.", "Use `/subscription status` to see open tasks."
        )


class StepNotOpen(DomainError):
    """A button for a step that no longer waits for it: a double click, a retry, or a stale message."""

    def __init__(self, step: str, status: str) -> None:
        super().__init__(
            f"The step “{step}” is already {status}.",
            "Nothing more to do here; `/subscription status` shows where the workflow stands.",
        )
        self.step = step
        self.status = status


class ApprovalNotPending(DomainError):
    rule = "R13"

    def __init__(self, state: str, by: str = "") -> None:
        who = f" by {by}" if by else ""
        super().__init__(
            f"This approval request is already {state}{who}.",
            "Nothing more to do here; ask for the cancellation again if it is still wanted.",
        )
        self.state = state


class ApproverNotAllowed(NotAuthorized):
    """R13: the approver must be another admin than the requester, with Global or Billing admin."""

    rule = "R13"


class SubscriptionNotActive(DomainError):
    rule = "R11"
    learn = MOVE_USERS

    def __init__(self, product: str, status: str, fix: str = "") -> None:
        super().__init__(
            f"{product} has no active subscription (it is {status}); users can only be moved between "
            "subscriptions that are both listed and active.",
            fix or "Renew or reactivate it in the admin center first, or contact support.",
        )
        self.product = product


class AmbiguousSubscription(DomainError):
    """Several active subscriptions of one product: each told apart by its seats, status and renewal,
    and the end of its id (`example` is one), which `/subscription cancel` takes."""

    def __init__(self, product: str, choices: Sequence[str], example: str = "") -> None:
        code = example or "CODE"
        super().__init__(
            f"{product} has several subscriptions: {'; '.join(choices)}.",
            f"Say which one by the code shown with it, e.g. `/subscription cancel {code}`.",
        )
        self.choices = tuple(choices)


class SeatsInUse(DomainError):
    """R2: seats that users hold cannot be removed."""

    rule = "R2"

    def __init__(self, product: str, total: int, consumed: int, removing: int, *, typed: str = "") -> None:
        removable = max(total - consumed, 0)
        super().__init__(
            f"{product} cannot lose {plural(removing, 'license')}: {consumed} of its {total} are "
            "assigned to users.",
            f"Remove at most {removable} (`/subscription seats {typed or product} -{removable}`), or remove "
            "licenses from users first (`/license remove`).",
        )
        self.removable = removable


class UpgradeNotDirect(DomainError):
    """R14: only E4 subscriptions bought directly (card or invoice) can be upgraded here."""

    rule = "R14"
    learn = UPGRADE_FROM_E4

    def __init__(self, product: str, channel: str) -> None:
        contact = "your partner" if channel == "partner" else "your Microsoft account representative"
        super().__init__(
            f"{product} was bought through {'a partner' if channel == 'partner' else 'volume licensing'}, "
            "and only subscriptions bought directly from Microsoft (card or invoice) can be upgraded "
            "this way.",
            f"Contact {contact} to upgrade it.",
        )
        self.channel = channel


class UsersStillLicensed(DomainError):
    """R13: cancelling would take licenses away from users who still hold them."""

    rule = "R13"

    def __init__(self, product: str, losing: int, holders: Sequence[str]) -> None:
        shown = ", ".join(holders[:10]) + (f" and {len(holders) - 10} more" if len(holders) > 10 else "")
        super().__init__(
            f"{plural(losing, 'user')} would lose {product} if this subscription is cancelled"
            + (f" (holders: {shown})." if shown else "."),
            "Move them to another subscription first, or approve again confirming that they lose access.",
        )
        self.losing = losing


class UndoNotAvailable(DomainError):
    """A change that cannot be undone (any more): still running, expired, or nothing it wrote."""

    rule = "R20"

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(
            problem,
            fix
            or "Change the users back by hand (`/license replace` or `/license assign`); "
            "`/license show @user` shows what they hold.",
        )


class MissingServiceDependency(DomainError):
    """A service in the product needs another one that is turned off or missing (Graph's
    DependencyViolation)."""

    rule = "R5"

    def __init__(self, user: str, detail: str) -> None:
        super().__init__(
            f"{user} cannot get this license as asked: a service in it depends on another service "
            f"that would be turned off or missing ({detail}).",
            "Keep the service it depends on turned on, or assign the product that provides it first.",
        )


class ProhibitedInUsageLocation(DomainError):
    """The product is not sold for the user's usage location (Graph's
    ProhibitedInUsageLocationViolation)."""

    rule = "R4"

    def __init__(self, user: str, usage_location: str | None) -> None:
        where = usage_location or "their usage location"
        super().__init__(
            f"{user} cannot get this license: it is not sold for use in {where}.",
            "Choose a product offered in that country, or correct the user's usage location in the "
            "admin center (Users > Active users > the user > Usage location).",
        )


class SignInActivityUnavailable(DomainError):
    """The tenant's sign-in activity cannot be read (R22): it needs the AuditLog.Read.All permission
    and a Microsoft Entra ID P1 (or P2) license in the tenant. No rule number in what admins read."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"Sign-in activity cannot be read in this tenant ({why}), so inactive accounts cannot be found.",
            "Reading when people last signed in needs the AuditLog.Read.All permission for licensebot "
            "and a Microsoft Entra ID P1 or P2 license in the tenant.",
        )
        self.why = why

"""Commands: what an admin asked for, as small frozen values named as verbs (STYLE.md)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.changes import ChangeKind
from domain.model import PaymentMethod

__all__ = [
    "ApproveCancellation",
    "BuySubscription",
    "CancelChange",
    "CancelSubscription",
    "ChangeGroupLicense",
    "ChangeLicenses",
    "ChangeSeats",
    "ConfirmChange",
    "DecideStep",
    "LicenseReport",
    "ListSubscriptions",
    "MarkTaskDone",
    "ReclaimLicenses",
    "RejectCancellation",
    "RetryFailed",
    "ShowChange",
    "ShowGroup",
    "ShowHome",
    "ShowServices",
    "ShowUser",
    "SwitchPlans",
    "UndoChange",
    "UpgradeFromE4",
]


@dataclass(frozen=True, slots=True)
class ChangeLicenses:
    """Assign (add to existing), replace (R7), remove, or turn services on/off (R5)."""

    kind: ChangeKind
    requester: str
    """The requester's email or user principal name in the tenant."""
    users: tuple[str, ...]
    product: str
    turn_off: tuple[str, ...] = ()
    turn_on: tuple[str, ...] = ()
    correlation_id: str = ""
    channel: str = ""
    all_or_nothing: bool = False
    """Refuse the whole change when a rule refuses any user (a form to correct), instead of
    leaving those users out (a command over many users)."""


@dataclass(frozen=True, slots=True)
class ConfirmChange:
    change_set_id: str
    requester: str
    correlation_id: str = ""
    channel: str = ""
    message_ts: str = ""
    """Where the change's progress is shown (a channel message), for whoever finishes it."""


@dataclass(frozen=True, slots=True)
class CancelChange:
    change_set_id: str
    requester: str
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class ChangeGroupLicense:
    """Assign, replace or remove a Microsoft Entra group's own license (R21): it reaches every
    member, so it is always previewed first."""

    kind: ChangeKind
    requester: str
    group: str
    """Display name, mail nickname or object id."""
    product: str
    turn_off: tuple[str, ...] = ()
    correlation_id: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class ShowGroup:
    requester: str
    group: str


@dataclass(frozen=True, slots=True)
class ShowUser:
    requester: str
    user: str


@dataclass(frozen=True, slots=True)
class ListSubscriptions:
    requester: str


@dataclass(frozen=True, slots=True)
class ReclaimLicenses:
    """Take back the licenses of disabled accounts, and of accounts nobody signed in to for
    `inactive_days` when it is given (R22): previewed, then confirmed like any change."""

    requester: str
    inactive_days: int | None = None
    correlation_id: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class LicenseReport:
    """Every user a report covers, with their licenses (R22): those who hold `product` (None: any
    license), the members of `group` (an Entra group, R21), or everyone with `include_unlicensed`."""

    requester: str
    product: str | None = None
    include_unlicensed: bool = False
    group: str | None = None


@dataclass(frozen=True, slots=True)
class RetryFailed:
    """A new change set, previewed like the first, for the users a finished change failed for."""

    change_set_id: str
    requester: str
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class ShowChange:
    """`/license status REF` and `/license undo REF`: a change set by its short reference."""

    reference: str
    requester: str
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class UndoChange:
    """Everyone a finished change wrote to, back to what they held before (previewed first)."""

    change_set_id: str
    requester: str
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class ShowServices:
    """One user's services of one product, to turn them on or off (R5)."""

    requester: str
    user: str
    product: str


@dataclass(frozen=True, slots=True)
class ShowHome:
    """The requester's overview: seats, products running out, their recent changes."""

    requester: str


# --- subscription workflows (DESIGN.md §4) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuySubscription:
    """`/subscription buy E5 10 [invoice]` (R10, R19)."""

    requester: str
    product: str
    seats: int
    payment_method: PaymentMethod = PaymentMethod.CARD
    correlation_id: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class ChangeSeats:
    """`/subscription seats E5 +5 | -3` (R2)."""

    requester: str
    product: str
    delta: int
    correlation_id: str = ""
    channel: str = ""
    subscription_id: str = ""
    """The subscription to change (a renewal alert's, R22); "": the product's largest active one."""


@dataclass(frozen=True, slots=True)
class SwitchPlans:
    """`/subscription switch E3 E5 [@users… | has:E3 | all]` (R11, R12, R15); no users means all."""

    requester: str
    source: str
    target: str
    users: tuple[str, ...] = ()
    payment_method: PaymentMethod = PaymentMethod.CARD
    """How to pay if the target has to be bought."""
    correlation_id: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class UpgradeFromE4:
    """`/subscription upgrade E4 E5` (R14)."""

    requester: str
    target: str
    source: str = "ENTERPRISEWITHSCAL"
    payment_method: PaymentMethod = PaymentMethod.CARD
    correlation_id: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class CancelSubscription:
    """`/subscription cancel E3` (R13): a product with one active subscription, or a subscription id."""

    requester: str
    subscription: str
    correlation_id: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class DecideStep:
    """A button on a waiting step: `choice` is a `domain.workflows.Choice` value."""

    requester: str
    workflow_id: str
    step: str
    choice: str
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class ApproveCancellation:
    requester: str
    approval_id: str
    accept_loss_of_access: bool = False
    """R13: the approver confirms that users who still hold the licenses lose access."""
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class RejectCancellation:
    requester: str
    approval_id: str
    reason: str = ""
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class MarkTaskDone:
    """An admin says an admin-center task is done: the bot checks the directory at once (R19)."""

    requester: str
    task_id: str
    correlation_id: str = ""

"""What the listeners are given: the services, how they pace Slack, the App Home sections other parts
of licensebot provide, and the keys of what each request carries in Bolt's context (its correlation
id, its people, its open form), which `handlers.requests.Request` reads for the listeners."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from slack_bolt import BoltContext

from domain.access import Access
from domain.application.group_follows import GroupFollows
from domain.application.subscriptions.workflows import SubscriptionWorkflows
from domain.application.use_cases import LicenseUseCases
from handlers.message_updates import MessageUpdates
from handlers.slack_directory import SlackUsers

__all__ = [
    "CLAIM_DELIVERY",
    "CORRELATION_ID",
    "OPEN_VIEW",
    "PEOPLE",
    "HomeItem",
    "Services",
    "Timing",
    "WorkflowProvider",
    "WorkflowSections",
    "correlation_id",
]

CORRELATION_ID = "correlation_id"
"""The key of the request's correlation id in Bolt's context (set by `handlers.requests.correlate`)."""
CLAIM_DELIVERY = "claim_delivery"
"""The key of a function that claims the request's delivery key: False for a redelivery."""
PEOPLE = "people"
"""The key of the request's `handlers.people.SlackPeople` (set by `handlers.admission`)."""
OPEN_VIEW = "open_view"
"""The key of the id of the form a listener opened: an error after that is shown in the form."""


@dataclass(frozen=True, slots=True)
class HomeItem:
    """One line of a workflow section of App Home: plain text, escaped when rendered."""

    title: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WorkflowSections:
    """The workflow sections of App Home for one person: what is in flight, what waits on them."""

    in_flight: Sequence[HomeItem] = ()
    waiting_on_me: Sequence[HomeItem] = ()


WorkflowProvider = Callable[[str], WorkflowSections]
"""The requester's email → their workflow sections (plugged in by the workflow part of licensebot)."""


@dataclass(frozen=True, slots=True)
class Timing:
    """How the listeners pace themselves against Slack's limits."""

    progress_interval: float = 1.0
    """Seconds between two updates of one progress message (Slack: about one update a second)."""
    form_check_seconds: float = 2.0
    """How long a form submission may check the tenant before it must answer Slack (within 3 s,
    because field errors only go back in that answer); longer checks continue after it."""


@dataclass(frozen=True)
class Services:
    """The use-case services the listeners call; the composition root (`bot/`) builds them."""

    licenses: LicenseUseCases
    """The license use cases: changes, queries, history, groups, waste, authorization, deliveries."""
    subscriptions: SubscriptionWorkflows | None = None
    """The subscription workflows (`/subscription buy|seats|switch|upgrade|cancel|status` and their
    buttons); without it those forms say the bot is not set up for them."""
    workflows: WorkflowProvider | None = None
    """App Home shows "Workflows in flight" and "Waiting on me" only when this is given."""
    timing: Timing = field(default_factory=Timing)
    slack_users: SlackUsers = field(default_factory=SlackUsers)
    """Slack people looked up by id or email, cached for every request of the process."""
    message_updates: MessageUpdates | None = None
    """`chat.update` at most once per `timing.progress_interval` per message, for every request of
    the process (built from `timing` when not given)."""
    access: Access | None = None
    """Who may act for whom (R24); without it, Slack accounts are admitted by their confirmed
    profile email, refusals audited through `licenses.authorization`."""
    group_follows: GroupFollows | None = None
    """Follows a confirmed group change while Microsoft 365 processes its members (R21); without
    it, the change's message says it was written and nothing more."""

    def __post_init__(self) -> None:
        if self.message_updates is None:
            object.__setattr__(
                self, "message_updates", MessageUpdates(interval=self.timing.progress_interval)
            )


def correlation_id(context: BoltContext) -> str:
    value = context.get(CORRELATION_ID)
    return value if isinstance(value, str) else ""

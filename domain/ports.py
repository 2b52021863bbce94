"""Ports: what the domain needs from the outside world, as Protocols (DESIGN.md §5).

Adapters live in `storage/` (SQLAlchemy, the simulated tenant, Microsoft Graph); tests pass fakes
that implement the same Protocols.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from domain.audit import AuditEntry
from domain.catalog import KnownProduct
from domain.changes import ChangeItem, ChangeOutcome, ChangeSet, ChangeState, UserChange
from domain.group_follow import GroupFollow
from domain.model import (
    AdminRole,
    Group,
    LicenseAssignment,
    Organization,
    PaymentMethod,
    Product,
    Subscription,
    User,
)
from domain.workflows import (
    AdminTask,
    Approval,
    Receipt,
    Reminder,
    WaitFor,
    Workflow,
    WorkflowState,
    WorkflowStatus,
)

__all__ = [
    "SIGN_INS_PAGE",
    "USERS_PAGE",
    "AdminTaskRepository",
    "ApprovalRepository",
    "AuditLog",
    "BusinessCalendar",
    "ChangeSetRepository",
    "Clock",
    "Commerce",
    "GroupFollowRepository",
    "IdempotencyKeys",
    "Lease",
    "Leases",
    "Notifier",
    "TenantDirectory",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserQuery",
    "WorkflowRepository",
]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


USERS_PAGE = 999
"""The largest page of users Graph serves."""

SIGN_INS_PAGE = 120
"""The largest page of users Graph serves when their `signInActivity` is selected."""


@dataclass(frozen=True, slots=True)
class UserQuery:
    """Which users to read a page at a time (`TenantDirectory.user_pages`)."""

    enabled: bool | None = None
    """Only enabled (True) or disabled (False) accounts (`accountEnabled`); None: both."""
    sku_id: str | None = None
    """Only the users who hold this product."""
    licensed: bool = False
    """Only the users who hold at least one license."""
    sign_ins: bool = False
    """Read `createdDateTime` and `signInActivity` too (R22), members only (no guests): raises
    `SignInActivityUnavailable` when the tenant does not allow it."""


class TenantDirectory(Protocol):
    """The Microsoft 365 tenant: products, subscriptions, users, licenses and roles.

    A remote system, even when simulated: given to the services, never reached through the unit of
    work, and never called while a database transaction is open (`domain.transactions`)."""

    def organization(self) -> Organization: ...

    def products(self) -> list[Product]:
        """Every product the tenant has (`subscribedSkus`), with seats (R1, R2)."""
        ...

    def subscriptions(self) -> list[Subscription]:
        """Every subscription (`directory/subscriptions`), with status (R9)."""
        ...

    def user(self, key: str) -> User | None:
        """A user by object id, user principal name or mail; None when there is none."""
        ...

    def users_with_product(self, sku_id: str) -> list[User]: ...

    def users_by_id(self, user_ids: Sequence[str]) -> dict[str, User | None]:
        """Each user by object id (None: gone), read in `$batch`es of at most 20 (R17)."""
        ...

    def user_pages(self, query: UserQuery) -> Iterator[list[User]]:
        """The users `query` selects, a page at a time (Graph's pages: at most `USERS_PAGE`, or
        `SIGN_INS_PAGE` with sign-ins), in a stable order. Each page is one remote call of its own:
        never consume it while a unit of work is open. Memory holds one page, whatever the tenant."""
        ...

    def admin_roles(self, user_id: str) -> frozenset[AdminRole]: ...

    def find_groups(self, key: str) -> list[Group]:
        """Microsoft Entra groups by object id, mail nickname or display name (several groups can
        share a display name: the caller asks which one), R21."""
        ...

    def groups_by_id(self, group_ids: Sequence[str]) -> dict[str, Group | None]:
        """Each group by object id (None: gone or unreadable), to name where a license comes from."""
        ...

    def licensed_groups(self) -> list[Group]:
        """Every group that gives a license, with its members counted (`Group.member_count`):
        the seats groups take, for `/subscription list` and App Home (R21)."""
        ...

    def group_members(self, group_id: str) -> list[User]:
        """The group's users, each with their licenses and where they come from."""
        ...

    def members_with_license_errors(self, group_id: str) -> list[User]:
        """Graph's `membersWithLicenseErrors`: the members the group's licenses are in error for."""
        ...

    def assign_group_license(
        self, group_id: str, add: Sequence[LicenseAssignment], remove: Sequence[str]
    ) -> Group:
        """The group's own `assignLicense` (add and remove in one call). Microsoft 365 takes it and
        processes the members afterwards (`Group.processing`); raises the domain error of a refusal."""
        ...

    def apply(self, changes: Sequence[UserChange], *, verify: bool = False) -> list[ChangeOutcome]:
        """Write each change once (one `assignLicense` per user: add and remove together, R7).

        Contract: a user already in the change's `after` state is reported ALREADY_APPLIED and not
        written; a user in neither the `before` nor the `after` state is reported CONFLICT and not
        written; rule refusals (R2–R6) come back as FAILED with the domain error's message. An
        adapter whose reads are cheap (the simulated tenant) reads every user first. A remote one
        may write a first attempt directly (the preview read those users moments ago) and classify
        by re-reading only when an answer is an error or unknown; with `verify` it must read first,
        because an earlier attempt may have written without its outcome being recorded. One
        outcome per change, in order.
        """
        ...


class ChangeSetRepository(Protocol):
    def add(self, change_set: ChangeSet) -> None: ...

    def get(self, change_set_id: str, *, for_update: bool = False) -> ChangeSet | None:
        """With `for_update`, the row stays locked until the unit of work ends."""
        ...

    def save(self, change_set: ChangeSet) -> None: ...

    def lock_state(self, change_set_id: str) -> ChangeState | None:
        """Lock the change set's row until the unit of work ends and return its state, without
        reading its items (None: no such change set)."""
        ...

    def save_progress(self, change_set: ChangeSet, items: Sequence[ChangeItem]) -> None:
        """Save the change set's state and the outcome of `items` only (a batch being applied):
        its users and licenses never change once planned, and the other items were saved as they
        are already."""
        ...

    def recent(self, requested_by: str | None = None, limit: int = 10) -> list[ChangeSet]: ...

    def ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of change sets that start with `prefix` (lowercase hex), at most `limit` of them:
        how a short reference is looked up, and found ambiguous."""
        ...

    def ids_in_state(self, state: ChangeState) -> list[str]: ...


class AuditLog(Protocol):
    """Append-only (R20): there is no update and no delete."""

    def record(self, entry: AuditEntry) -> None: ...

    def recent(self, limit: int = 20, actor: str | None = None) -> list[AuditEntry]: ...


class IdempotencyKeys(Protocol):
    def claim(self, key: str, at: datetime) -> bool:
        """True the first time a key is seen, False after (a Slack retry or a second click)."""
        ...


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    owner: str
    expires_at: datetime


class Leases(Protocol):
    """Named leases on work shared by every process on the database (DESIGN.md §7): the periodic
    poll, a change set being applied, the one scheduler SQLite allows. A claim is taken in the unit
    of work's transaction and holds once it commits; on PostgreSQL a row being claimed by another
    transaction is skipped (`FOR UPDATE SKIP LOCKED`), never waited for."""

    def claim(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Hold `name` until `now + ttl` when it is free, expired or already `owner`'s; False when
        another owner holds it (or is claiming it right now)."""
        ...

    def renew(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Hold `name` until `now + ttl` only if `owner` has held it without a break since its
        last claim or renewal (even past its expiry, as long as nobody took it): True means no
        other process can have done the leased work meanwhile."""
        ...

    def release(self, name: str, owner: str) -> None:
        """Free `name` if `owner` holds it."""
        ...

    def holder(self, name: str) -> Lease | None: ...

    def release_owned(self, owner_prefix: str) -> int:
        """Free every lease whose owner starts with `owner_prefix` (a process shutting down)."""
        ...


class GroupFollowRepository(Protocol):
    """The group changes whose processing is followed (R21), by change set id."""

    def add(self, follow: GroupFollow) -> None:
        """Adding a follow of a change set that is already followed is a no-op."""
        ...

    def get(self, change_set_id: str, *, for_update: bool = False) -> GroupFollow | None: ...

    def save(self, follow: GroupFollow) -> None: ...

    def following(self) -> list[GroupFollow]:
        """The follows still following, oldest first."""
        ...


class WorkflowRepository(Protocol):
    """The subscription workflows (DESIGN.md §4), each with its steps."""

    def add(self, workflow: Workflow) -> None: ...

    def get(self, workflow_id: str, *, for_update: bool = False) -> Workflow | None:
        """With `for_update`, the row stays locked until the unit of work ends."""
        ...

    def save(self, workflow: Workflow) -> None: ...

    def in_state(self, *states: WorkflowState) -> list[Workflow]:
        """Oldest first."""
        ...

    def waiting_for(self, waits: Collection[WaitFor]) -> list[Workflow]:
        """Workflows whose current step waits for one of these, oldest first."""
        ...

    def claim_ready(
        self, owner: str, now: datetime, ttl: timedelta, *, limit: int = 50, force: bool = False
    ) -> list[str]:
        """The running workflows whose current step is ready to run — pending, or running under a
        lease that expired or is `owner`'s (any lease with `force`) — oldest first, at most `limit`;
        rows another transaction holds are skipped (SKIP LOCKED). A pending step is leased to
        `owner` here; a running one is taken over when it is resumed, under its row lock."""
        ...

    def release_owned(self, owner_prefix: str) -> int:
        """Drop the leases of workflows whose lease owner starts with `owner_prefix`."""
        ...

    def recent(self, limit: int = 10, requested_by: str | None = None) -> list[Workflow]:
        """Newest first."""
        ...

    def purchases_taken(self, sku_id: str, *, excluding: str) -> set[str]:
        """The subscriptions of this product that workflows other than `excluding` took as their
        purchase (`Workflow.purchase_id`)."""
        ...

    def take_purchase(self, workflow_id: str, subscription_id: str) -> bool:
        """Record the subscription as this workflow's purchase, unless another workflow took it:
        atomic across processes (a unique column), so one purchase completes one workflow (R19)."""
        ...


class ApprovalRepository(Protocol):
    def add(self, approval: Approval) -> None: ...

    def get(self, approval_id: str, *, for_update: bool = False) -> Approval | None: ...

    def save(self, approval: Approval) -> None: ...

    def pending(self) -> list[Approval]:
        """Undecided approval requests (expired or not), oldest first."""
        ...


class AdminTaskRepository(Protocol):
    def add(self, task: AdminTask) -> None:
        """Adding a task whose id exists already is a no-op (commerce adapters give stable ids)."""
        ...

    def get(self, task_id: str, *, for_update: bool = False) -> AdminTask | None: ...

    def save(self, task: AdminTask) -> None: ...

    def open(self) -> list[AdminTask]:
        """Tasks not yet seen done, oldest first."""
        ...


class Commerce(Protocol):
    """Buying, changing seats and cancelling (R19): done by the adapter itself (the simulated tenant,
    a `Receipt`), or handed to an admin as an `AdminTask` (a real, directly billed tenant).

    Every call carries a `reference` that is the same when a step is retried after a crash, and the
    adapter does the thing once per reference (a second call returns what the first one did). None
    of them claims success for a task: the workflow completes when the directory shows the result.
    """

    def buy(
        self, product: KnownProduct, seats: int, payment_method: PaymentMethod, *, reference: str
    ) -> Receipt | AdminTask: ...

    def change_seats(self, subscription: Subscription, total: int, *, reference: str) -> Receipt | AdminTask:
        """Set the subscription's number of licenses to `total` (an absolute number: idempotent)."""
        ...

    def cancel(self, subscription: Subscription, *, reference: str) -> Receipt | AdminTask: ...


class BusinessCalendar(Protocol):
    """Business days of a country: weekdays that are not public holidays (R10's credit check)."""

    def is_business_day(self, day: date, country: str) -> bool: ...

    def add_business_days(self, start: date, days: int, country: str) -> date:
        """The day `days` business days after `start` (which need not be a business day itself)."""
        ...


class Notifier(Protocol):
    """How the services tell the Slack side that something changed; implemented there.

    Called after the change is committed, never inside a transaction; a notifier that fails is logged
    and does not undo or stop the workflow (the next change, or a reminder, tells again).
    """

    def workflow_changed(self, status: WorkflowStatus) -> None:
        """A workflow started, a step moved (running, waiting, done, failed, skipped), a reassignment
        batch finished, or the workflow ended: update its one message in place (`workflow.channel`,
        `workflow.message_ts`), with buttons for `status.choices`."""
        ...

    def approval_requested(self, status: WorkflowStatus) -> None:
        """A cancellation waits for approval (`status.approval`): post it to the approvals channel
        with Approve / Reject buttons (and "Approve, they lose access" when holders remain, R13)."""
        ...

    def approval_closed(self, status: WorkflowStatus) -> None:
        """An approval was approved, rejected or expired: update its request message, no buttons."""
        ...

    def reminder(self, reminder: Reminder) -> None:
        """A reminder that `WorkflowTicks.due_reminders` returned: the scheduler sends it here."""
        ...

    def change_resumed(self, change_set: ChangeSet) -> None:
        """A change set that a crash, a restart or a stopped process left half-applied was finished
        by the scheduler: show its result where its progress was shown."""
        ...


class UnitOfWork(Protocol):
    """A database transaction over the bot's own state, and nothing else (DESIGN.md §5): the tenant
    directory, commerce and Slack are never reached while one is open (`domain.transactions`)."""

    change_sets: ChangeSetRepository
    audit: AuditLog
    keys: IdempotencyKeys
    leases: Leases
    workflows: WorkflowRepository
    approvals: ApprovalRepository
    tasks: AdminTaskRepository
    group_follows: GroupFollowRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Rolls back whatever was not committed."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...

"""Following a group change from the bot's state (R21), on the in-memory unit of work: what the
message shows at each read, a Slack failure shown again at the next read, and no read while a
transaction is open (the in-memory directory refuses one)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from domain.application.group_follows import GroupFollows, GroupProgress
from domain.changes import ChangeItem, ChangeKind, ChangeSet, ChangeState, ItemStatus, UserChange
from domain.group_follow import FollowState, GroupFollow
from domain.model import Group, LicenseAssignment, LicenseState, ProcessingState
from tests.fakes import SKU_E3, FixedClock, InMemoryDirectory, InMemoryUnitOfWorkFactory, make_user

GROUP = "group-1"
INTERVAL = timedelta(minutes=5)


class Messages:
    def __init__(self) -> None:
        self.shown: list[GroupProgress] = []
        self.failing = False

    def group_progress(self, follow: GroupFollow, change_set: ChangeSet, progress: GroupProgress) -> bool:
        assert (follow.channel, follow.message_ts) == ("C1", "111.1")
        assert change_set.id == follow.change_set_id
        if self.failing:
            return False
        self.shown.append(progress)
        return True


def confirmed(uow: InMemoryUnitOfWorkFactory, clock: FixedClock) -> ChangeSet:
    change = UserChange(GROUP, "group:Sales", "Sales", (), (LicenseAssignment(SKU_E3),))
    change_set = ChangeSet(
        id="cs-1",
        kind=ChangeKind.ASSIGN,
        requested_by="lena@contoso.com",
        product_sku=SKU_E3,
        product_label="Office 365 E3",
        items=[ChangeItem(change, ItemStatus.APPLIED)],
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(minutes=15),
        state=ChangeState.DONE,
    )
    change_set.group_id = GROUP
    with uow() as unit:
        unit.change_sets.add(change_set)
        unit.commit()
    return change_set


def test_the_message_follows_processing_and_a_failed_update_is_shown_again() -> None:
    clock = FixedClock()
    directory = InMemoryDirectory()
    directory.add_user(make_user("ivan"))
    group = directory.add_group(
        Group(GROUP, "Sales", "sales", (LicenseAssignment(SKU_E3),), ProcessingState.IN_PROGRESS),
        "ivan@contoso.com",
    )
    uow = InMemoryUnitOfWorkFactory()
    messages = Messages()
    follows = GroupFollows(uow, directory, clock, messages, owner="p1", poll_interval=INTERVAL)
    change_set = confirmed(uow, clock)

    follow = follows.start(change_set, "C1", "111.1")
    assert follow is not None
    assert [p.state for p in messages.shown] == [ProcessingState.IN_PROGRESS]

    clock.advance(INTERVAL)
    assert follows.tick().polled == [GROUP]
    assert len(messages.shown) == 1, "nothing new to show: no update"

    # Processing completes with Ivan in error; Slack refuses the first update.
    ivan = directory.user("ivan@contoso.com")
    assert ivan is not None
    directory.add_user(replace(ivan, states=(LicenseState(SKU_E3, GROUP, error="CountViolation"),)))
    directory.add_group(replace(group, processing=ProcessingState.COMPLETE), "ivan@contoso.com")
    messages.failing = True
    clock.advance(INTERVAL)
    report = follows.tick()
    assert report.completed == []
    with uow() as unit:
        stored = unit.group_follows.get("cs-1")
    assert stored is not None
    assert stored.state is FollowState.FOLLOWING, "not complete until the message says so"

    messages.failing = False
    clock.advance(INTERVAL)
    assert follows.tick().completed == ["cs-1"]
    last = messages.shown[-1]
    assert last.complete
    assert [u.display_name for u in last.in_error] == ["Ivan"]
    clock.advance(INTERVAL)
    assert follows.tick().polled == []


def test_only_an_applied_group_change_with_a_message_is_followed() -> None:
    clock = FixedClock()
    uow = InMemoryUnitOfWorkFactory()
    follows = GroupFollows(uow, InMemoryDirectory(), clock, Messages(), owner="p1", poll_interval=INTERVAL)
    change_set = confirmed(uow, clock)
    assert follows.start(change_set, "", "") is None
    change_set.items[0].status = ItemStatus.FAILED
    assert follows.start(change_set, "C1", "111.1") is None
    change_set.group_id = ""
    assert follows.start(change_set, "C1", "111.1") is None
    with uow() as unit:
        assert unit.group_follows.following() == []

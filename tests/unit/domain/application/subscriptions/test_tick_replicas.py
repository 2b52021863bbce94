"""Several processes ticking on one database (issue #6), with the in-memory fakes: the poll is
leased (one replica reads the tenant per interval), change sets a crash left half-applied are
finished by a tick and shown in Slack, and a stopping process gives its leases back at once."""

from __future__ import annotations

import pytest

from domain.application.applier import change_set_lease
from domain.application.licensing import Licensing
from domain.application.subscriptions.tick import POLL_LEASE
from domain.application.subscriptions.workflows import SubscriptionWorkflows, subscription_workflows
from domain.changes import ChangeKind, ChangeSet, ChangeState
from domain.commands import BuySubscription, ChangeLicenses, ConfirmChange
from domain.workflows import WorkflowState, WorkflowStatus
from tests.fakes import InMemoryUnitOfWorkFactory, RecordingNotifier, SimulatedCrash
from tests.unit.domain.application.subscriptions.test_subscriptions import BILL, WeekdaysOnly, World, world


def _replica(w: World, name: str) -> SubscriptionWorkflows:
    licensing = Licensing(w.uow, w.directory, w.clock, w.subscriptions.engine.licensing.catalog, owner=name)
    return subscription_workflows(
        w.uow,
        w.directory,
        w.clock,
        licensing.catalog,
        licensing=licensing,
        commerce=w.commerce,
        calendar=WeekdaysOnly(),
        notifier=w.notifier,
        owner=name,
    )


class CountingReads:
    def __init__(self, w: World) -> None:
        self.count = 0
        original = w.directory.subscriptions

        def counted() -> list:  # type: ignore[type-arg]
            self.count += 1
            return original()

        w.directory.subscriptions = counted  # type: ignore[method-assign]


def test_one_replica_polls_the_tenant_per_interval_and_another_takes_over_when_it_stops() -> None:
    w = world()
    status = w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 2))
    a, b = _replica(w, "replica-a"), _replica(w, "replica-b")
    reads = CountingReads(w)

    assert a.ticks.tick().polled == 1
    assert b.ticks.tick().polled == 0, "A polled moments ago: B skips the read"
    assert reads.count == 1
    w.clock.advance(a.engine.settings.poll_interval)
    w.commerce.activate(status.workflow.subscription_id)
    assert b.ticks.tick().advanced == (status.workflow.id,), "A's poll lease ran out: B polls"

    before = reads.count
    assert a.ticks.tick().polled == 0, "within B's interval"
    assert reads.count == before
    b.ticks.release_leases()
    with w.uow() as uow:
        assert uow.leases.holder(POLL_LEASE) is None
    [final] = a.queries.status(BILL, status.workflow.id)
    assert final.workflow.state is WorkflowState.DONE


def test_a_tick_finishes_a_change_a_crash_left_and_shows_its_result() -> None:
    w = world()
    preview = w.subscriptions.engine.licensing.request_change(
        ChangeLicenses(ChangeKind.REPLACE, "lena@contoso.com", ("alice@contoso.com",), "E5", channel="C9")
    )
    w.directory.crash_once_after(0)
    with pytest.raises(SimulatedCrash):
        w.subscriptions.engine.licensing.confirm(
            ConfirmChange(preview.id, "lena@contoso.com", channel="C9", message_ts="171.1")
        )

    report = _replica(w, "replica-b").ticks.tick()

    assert report.changes == (preview.id,)
    [told] = w.notifier.named("change_resumed")
    assert isinstance(told, ChangeSet)
    assert (told.id, told.state, told.channel, told.message_ts) == (
        preview.id,
        ChangeState.DONE,
        "C9",
        "171.1",
    )
    assert w.directory.writes_for("alice@contoso.com") == 1


def test_a_stopping_replica_takes_no_new_work_and_gives_every_lease_back() -> None:
    w = world()
    a = _replica(w, "replica-a")
    a.ticks.tick()
    with w.uow() as uow:
        assert uow.leases.claim(
            change_set_lease("cs-1"), f"replica-a:{1}", w.clock.now(), a.engine.settings.lease_ttl
        )
        uow.commit()
    a.ticks.stop()
    assert a.ticks.resume() == []
    assert a.ticks.release_leases() == 2
    with w.uow() as uow:
        assert uow.leases.holder(POLL_LEASE) is None
        assert uow.leases.holder(change_set_lease("cs-1")) is None


class MovedOnMeanwhile(RecordingNotifier):
    """While its first checklist update is on its way, another process moves the workflow on."""

    def __init__(self) -> None:
        super().__init__()
        self.uow: InMemoryUnitOfWorkFactory | None = None
        self.moved = False

    def workflow_changed(self, status: WorkflowStatus) -> None:
        super().workflow_changed(status)
        if self.moved or self.uow is None:
            return
        self.moved = True
        with self.uow() as uow:
            workflow = uow.workflows.get(status.workflow.id, for_update=True)
            assert workflow is not None
            workflow.state = WorkflowState.FAILED
            uow.workflows.save(workflow)
            uow.commit()


def test_a_checklist_update_overtaken_by_another_process_is_sent_again_with_the_newer_state() -> None:
    # Slack keeps the last update of a message: an update that landed after another process's newer
    # one would leave the checklist behind, so the sender looks again and shows what is current.
    notifier = MovedOnMeanwhile()
    w = world(notifier=notifier)
    notifier.uow = w.uow

    w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 2))

    first, second = notifier.named("workflow_changed")[:2]
    assert isinstance(first, WorkflowStatus)
    assert isinstance(second, WorkflowStatus)
    assert first.workflow.state is WorkflowState.RUNNING
    assert second.workflow.id == first.workflow.id
    assert second.workflow.state is WorkflowState.FAILED

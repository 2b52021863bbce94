"""The step registry: every step name has its kind, one module each, with what the engine, the poll
and the decisions need of it."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime

import pytest

import domain.application.steps as steps_package
from domain.application.steps.kind import StepKind
from domain.application.steps.registry import POLLED_STEPS, STEP_KINDS, choice_effect, step_kind
from domain.application.subscriptions.builders import Tenant, WorkflowBuilder
from domain.model import Organization
from domain.workflows import STEPS, Choice, StepName, StepStatus, WaitFor, WorkflowKind
from domain.workflows.settings import WorkflowSettings
from tests.fakes import FixedClock, make_product, make_subscription

_SHARED = {"kind", "runners", "registry", "observing"}
"""Modules of the package that are not a step kind."""

_COMMERCE_STEPS = {
    StepName.BUY,
    StepName.TARGET,
    StepName.CHANGE_SEATS,
    StepName.CHECK_SEATS,
    StepName.CANCEL,
}
"""Steps that call commerce, which on a real tenant hands them over as an admin task (R19)."""

_OFFERED: dict[StepName, set[Choice]] = {
    StepName.DECIDE: {Choice.MANUAL, Choice.ADMIN_CENTER, Choice.ABORT},
    StepName.TARGET: {Choice.BUY, Choice.ABORT},
    StepName.BUY: {Choice.ABORT},
    StepName.AWAIT_ACTIVE: {Choice.ABORT},
    StepName.CHANGE_SEATS: {Choice.ABORT},
    StepName.AWAIT_SEATS: {Choice.ABORT},
    StepName.CHECK_SEATS: {Choice.BUY_SEATS, Choice.ABORT},
    StepName.PREVIEW: {Choice.CONFIRM, Choice.RETRY, Choice.ABORT},
    StepName.OFFER_ADDONS: {Choice.REMOVE_ADDONS, Choice.SKIP},
    StepName.OFFER_CLEANUP: {Choice.CANCEL_OLD, Choice.REMOVE_SEATS, Choice.SKIP},
    StepName.CONFIRM: {Choice.CONFIRM, Choice.ABORT},
    StepName.CANCEL: {Choice.ABORT},
}
"""What each step offers when it waits (the buttons of `WorkflowStatus.choices`)."""


def _step_modules() -> dict[str, object]:
    names = [m.name for m in pkgutil.iter_modules(steps_package.__path__) if m.name not in _SHARED]
    return {name: importlib.import_module(f"{steps_package.__name__}.{name}") for name in names}


def test_every_step_name_has_one_kind_registered_under_its_name() -> None:
    assert set(STEP_KINDS) == set(StepName)
    for name, kind in STEP_KINDS.items():
        assert isinstance(kind, StepKind)
        assert kind.name is name
        assert step_kind(name) is kind
        assert kind.label == name.label
        assert kind.label


def test_each_step_module_provides_one_registered_step_kind() -> None:
    modules = _step_modules()
    provided = {}
    for module_name, module in modules.items():
        step = getattr(module, "STEP", None)
        assert isinstance(step, StepKind), f"{module_name} provides no STEP"
        assert STEP_KINDS[step.name] is step, f"{module_name} is not in the registry"
        provided[step.name] = module_name
    assert set(provided) == set(StepName), "one module per step kind"
    assert len(modules) == len(StepName)


@pytest.mark.parametrize("kind", list(WorkflowKind))
def test_every_step_a_workflow_runs_has_a_runner(kind: WorkflowKind) -> None:
    for name in STEPS[kind]:
        if name is StepName.CONFIRM:
            continue  # a cancellation starts with it waiting: see below
        assert callable(step_kind(name).run), f"{name} cannot run"


def test_the_step_without_a_runner_starts_waiting() -> None:
    assert [name for name, kind in STEP_KINDS.items() if kind.run is None] == [StepName.CONFIRM]
    e3 = make_product("ENTERPRISEPACK")
    subscription = make_subscription(e3)
    tenant = Tenant(Organization("org-1", "Contoso", frozenset({"contoso.com"})), [e3], [subscription])
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    cancel = WorkflowBuilder(FixedClock(now), WorkflowSettings()).cancel(
        tenant, "bill@contoso.com", subscription, channel=""
    )
    step = cancel.current
    assert step is not None
    assert (step.name, step.status, step.waiting_for) == (
        StepName.CONFIRM,
        StepStatus.WAITING,
        WaitFor.CONFIRMATION,
    )


def test_polled_steps_and_steps_handed_over_as_admin_tasks_observe_the_directory() -> None:
    polled = {StepName.AWAIT_ACTIVE, StepName.CHECK_SEATS, StepName.AWAIT_SEATS, StepName.VERIFY}
    assert polled == POLLED_STEPS
    for name in POLLED_STEPS | _COMMERCE_STEPS:
        assert step_kind(name).observe is not None, f"{name} observes nothing"


@pytest.mark.parametrize("name", list(_OFFERED))
def test_every_choice_a_step_offers_has_its_effect(name: StepName) -> None:
    for choice in _OFFERED[name]:
        effect = choice_effect(name, choice)
        assert effect is not None, f"{choice} at {name} does nothing"
        assert callable(effect.apply)
    for choice in set(step_kind(name).choices):
        assert choice in _OFFERED[name], f"{name} has an effect for {choice}, which it never offers"


def test_choices_a_step_does_not_offer_have_no_effect_there() -> None:
    assert choice_effect(StepName.PREVIEW, Choice.BUY) is None
    assert choice_effect(StepName.DECIDE, Choice.CONFIRM) is None
    assert choice_effect(StepName.OFFER_CLEANUP, Choice.REMOVE_ADDONS) is None
    assert choice_effect(StepName.VERIFY, Choice.ABORT) is not None, "stopping is common to every step"


def test_choices_that_read_the_tenant_declare_it() -> None:
    reading = {
        (name, choice)
        for name, kind in STEP_KINDS.items()
        for choice, effect in kind.choices.items()
        if effect.reads is not None
    }
    assert reading == {
        (StepName.CHECK_SEATS, Choice.BUY_SEATS),
        (StepName.OFFER_ADDONS, Choice.REMOVE_ADDONS),
        (StepName.OFFER_CLEANUP, Choice.CANCEL_OLD),
        (StepName.OFFER_CLEANUP, Choice.REMOVE_SEATS),
    }

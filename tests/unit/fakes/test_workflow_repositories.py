"""The in-memory fakes keep the contract of the SQL repositories: the same tests run on both."""

from __future__ import annotations

import pytest

from tests.fakes import InMemoryUnitOfWorkFactory
from tests.integration.storage.test_workflow_repositories import (
    test_a_subscription_is_the_purchase_of_one_workflow_only_r19,
    test_a_workflow_not_committed_is_not_kept,
    test_a_workflow_round_trips_with_every_fact_and_step,
    test_admin_tasks_round_trip_are_added_once_and_the_open_ones_are_listed,
    test_approvals_round_trip_and_the_pending_ones_are_listed,
    test_workflows_are_found_by_state_and_by_what_they_wait_for,
)

__all__ = [
    "test_a_subscription_is_the_purchase_of_one_workflow_only_r19",
    "test_a_workflow_not_committed_is_not_kept",
    "test_a_workflow_round_trips_with_every_fact_and_step",
    "test_admin_tasks_round_trip_are_added_once_and_the_open_ones_are_listed",
    "test_approvals_round_trip_and_the_pending_ones_are_listed",
    "test_workflows_are_found_by_state_and_by_what_they_wait_for",
]


@pytest.fixture
def uow_factory() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()

"""In-memory fakes of the ports in `domain/ports.py`, and builders for test data (STYLE.md: fakes over
mocks), one module per concern:

- `clock`: `FixedClock` (moves only when told) and `FakeTime` (monotonic time that records sleeps);
- `builders`: users, organizations, subscriptions, and products from `domain.product_table`;
- `directory`: `InMemoryDirectory`, the tenant, a remote system with the transaction rules of the
  real ones (it refuses to be called while a unit of work is open and shares nothing with it);
- `repositories` and `unit_of_work`: the bot's own state with real commit and rollback;
- `notifier`: `RecordingNotifier`; `commerce`: `InMemoryCommerce`;
- `login`: a fake of Microsoft's sign-in endpoints over HTTP (imported from `tests.fakes.login`).

The names below are what tests import from `tests.fakes`.
"""

from tests.fakes.builders import (
    SKU_E1,
    SKU_E3,
    SKU_E5,
    SKU_F3,
    SKU_FILE_STORAGE,
    SKU_M365_E5,
    license_of,
    make_organization,
    make_product,
    make_subscription,
    make_user,
    plan_id,
    service_plan,
)
from tests.fakes.clock import FakeTime, FixedClock
from tests.fakes.commerce import InMemoryCommerce
from tests.fakes.directory import ApplyCall, DirectoryWrite, InMemoryDirectory, SimulatedCrash
from tests.fakes.notifier import RecordingNotifier
from tests.fakes.repositories import (
    InMemoryApprovals,
    InMemoryAudit,
    InMemoryChangeSets,
    InMemoryKeys,
    InMemoryTasks,
    InMemoryWorkflows,
)
from tests.fakes.unit_of_work import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory

__all__ = [
    "SKU_E1",
    "SKU_E3",
    "SKU_E5",
    "SKU_F3",
    "SKU_FILE_STORAGE",
    "SKU_M365_E5",
    "ApplyCall",
    "DirectoryWrite",
    "FakeTime",
    "FixedClock",
    "InMemoryApprovals",
    "InMemoryAudit",
    "InMemoryChangeSets",
    "InMemoryCommerce",
    "InMemoryDirectory",
    "InMemoryKeys",
    "InMemoryTasks",
    "InMemoryUnitOfWork",
    "InMemoryUnitOfWorkFactory",
    "InMemoryWorkflows",
    "RecordingNotifier",
    "SimulatedCrash",
    "license_of",
    "make_organization",
    "make_product",
    "make_subscription",
    "make_user",
    "plan_id",
    "service_plan",
]

"""Another admin is answered while a throttled 500-user change runs, on SQLite (DESIGN.md §8).

`licensebot serve` (gunicorn, its scheduler ticking every second) on a SQLite database with
TENANT_BACKEND=graph, against the Graph simulator answering 429 with `Retry-After: 1` to a fifth of
the license writes. Lena replaces E3 with E5 for 500 users and confirms; from the first write on,
Grace sends 50 `/license show @user` and presses Cancel on 50 previews of her own (each a write to
the bot's database), one after the other. Before the rebuilt apply path the whole-database write
lock was held across the Graph calls and their Retry-After, and Grace read "licensebot's database
cannot be reached" after 15 s.

The harness is the `busy` benchmark's (`bench/busy_answers.py`), which times the same answers;
this test asserts only what must hold whatever the machine's load: every request acknowledged and
answered with what it asked for while the change was still being written, nothing saying something
cannot be reached, no "database is locked", error or traceback in the serve log, the scheduler
ticking meanwhile, and the change ending with each user on E5, written once.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.busy_answers import MOVERS, Params, Run, measure
from bench.common import bench_user_id

pytestmark = [pytest.mark.slow]

USERS = 500
PROBES = 50


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    params = Params(users=USERS, probes=PROBES, baseline=False)
    return measure(params, tmp_path_factory.mktemp("throttled-change"))


def test_every_request_of_the_other_admin_is_answered_during_the_change(run: Run) -> None:
    assert Counter(a.kind for a in run.busy) == {"show": PROBES, "cancel": PROBES}
    assert [a for a in run.busy if a.status != 200] == [], "every request acknowledged"
    unanswered = [a for a in run.busy if not a.answered]
    assert unanswered == [], "every request answered"
    assert all("Cancelled" in a.text for a in run.busy if a.kind == "cancel")
    assert run.running_at_last_answer, (
        f"the change was over before the last answer ({run.written_at_last_answer} of {USERS} written)"
    )
    assert 0 < run.written_at_last_answer < USERS


def test_nothing_says_the_database_cannot_be_reached_and_nothing_failed(run: Run) -> None:
    # Checked by the harness: every message the fake Slack received, and the serve log
    # ("database is locked", errors, tracebacks); the tenant's history (below) as well.
    assert run.problems == []
    assert run.ticks_during_change > 0, "the scheduler ticked during the change, without failing"


def test_the_change_still_ends_with_every_user_on_e5_written_once(run: Run) -> None:
    assert run.throttled > 0, "Graph throttled the change"
    assert run.writes == {bench_user_id(i, MOVERS): 1 for i in range(1, USERS + 1)}

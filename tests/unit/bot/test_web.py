"""The gate that lets a worker's acknowledgements go before the work they started (`bot.web`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.web import AcksFirst, AcksFirstExecutor


def _poll(condition: Callable[[], bool], deadline_seconds: float = 5.0) -> bool:
    """Poll with a deadline (no fixed sleep to wait for the other thread)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.001)
    return False


def test_work_starts_only_once_no_acknowledgement_is_in_flight() -> None:
    gate = AcksFirst(max_wait=30.0)
    pool = AcksFirstExecutor(gate, 2)
    started = threading.Event()
    try:
        with gate.acknowledging(), gate.acknowledging():
            done = pool.submit(started.set)
            assert _poll(lambda: gate.waiting == 1), "the work did not wait for the acknowledgements"
            assert not started.is_set()
        done.result(timeout=5)
        assert started.is_set()
    finally:
        pool.shutdown(wait=True)


def test_work_waits_no_longer_than_max_wait_under_a_steady_stream() -> None:
    gate = AcksFirst(max_wait=0.01)
    pool = AcksFirstExecutor(gate, 1)
    try:
        with gate.acknowledging():
            assert pool.submit(lambda: "worked").result(timeout=5) == "worked"
            assert gate.wait_turn() is False
    finally:
        pool.shutdown(wait=True)


def test_work_goes_at_once_when_nothing_is_being_acknowledged() -> None:
    gate = AcksFirst(max_wait=30.0)
    assert gate.wait_turn() is True
    pool = AcksFirstExecutor(gate, 1)
    try:
        assert pool.submit(lambda x: x * 2, 21).result(timeout=5) == 42
    finally:
        pool.shutdown(wait=True)

"""licensebot's benchmarks: `python -m bench` runs them all, prints the tables and writes
docs/benchmarks.md (see `python -m bench --help`).

One module per measurement, each with `NAME`, a `Params` dataclass (`quick()` and `tiny()` sizes
besides the full defaults) and `run(params, log) -> list[Table]`:

- `ack_latency`: Slack acknowledgement latency through `licensebot serve` (gunicorn), SQLite and
  PostgreSQL, 1 and 50 concurrent clients, with every reply checked in the local fake Slack.
- `bulk_reassign`: replacing E3 with E5 for 2,000 users through the Graph adapter against
  `graph-sim` with Microsoft's write quota, side by side with a per-user loop.
- `poll_cost`: Graph requests per scheduler tick against the number of pending subscriptions.
- `footprint`: start-up time and resident memory of `serve`, small and large tenants.
- `shell_latency`: the local shell, from a typed command to the rendered reply.
- `busy_answers`: another admin's `/license show` and button presses answered while a 500-user
  change runs on SQLite against `graph-sim` throttling a fifth of the writes, against a baseline.
- `license_report`: `/license report` on tenants of 5,000 and 50,000 users: time and memory.

Traffic goes to 127.0.0.1 only; every loop is bounded in count and in time.
"""

from __future__ import annotations

from types import ModuleType

__all__ = ["modules"]


def modules() -> dict[str, ModuleType]:
    """Every benchmark by name, in the order they run."""
    from bench import (
        ack_latency,
        bulk_reassign,
        busy_answers,
        footprint,
        license_report,
        poll_cost,
        shell_latency,
    )

    return {
        m.NAME: m
        for m in (
            ack_latency,
            bulk_reassign,
            poll_cost,
            footprint,
            shell_latency,
            busy_answers,
            license_report,
        )
    }

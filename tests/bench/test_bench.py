"""Smoke test of the benchmarks (bench/): each one runs with tiny sizes and produces its table.

No timing is asserted: the numbers depend on the machine. What is checked is that every benchmark
still drives the code it measures, and that what it checks about correctness holds. A folder of its
own, not tests/unit: most benchmarks start real processes (`licensebot serve`, `graph-sim`) and take
seconds each.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType

import pytest

from bench import modules
from bench.common import Check, Table
from bench.report import ANALYSIS_END, ANALYSIS_START, RunInfo, write

BENCHMARKS = modules()


@pytest.fixture(autouse=True)
def _restore_root_logger() -> object:
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def _tiny(name: str, module: ModuleType) -> object:
    params = module.Params.tiny()
    if name == "bulk":
        params = dataclasses.replace(params, sustained_quota=None)
    return params


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_each_benchmark_runs_with_tiny_sizes_and_produces_rows(name: str) -> None:
    module = BENCHMARKS[name]
    lines: list[str] = []

    tables = module.run(_tiny(name, module), lines.append)

    assert tables, f"{name} produced no table"
    for table in tables:
        assert isinstance(table, Table)
        assert table.rows, f"{name}: {table.title} has no rows"
        assert all(len(row) == len(table.columns) for row in table.rows)
        assert table.markdown().count("\n") == len(table.rows) + 1
    # They check correctness, not only speed: every reply arrived, every user ended as intended.
    if name == "ack":
        assert all(row[-1] == "all arrived" for row in tables[0].rows), tables[0].rows
    if name == "bulk":
        correct = tables[0].columns.index("correct")
        assert all(row[correct] == "yes" for row in tables[0].rows), tables[0].rows
    if name == "busy":
        assert tables[0].checks, "the answers are checked against their target"
        assert not any("PROBLEMS" in c.measured for c in tables[0].checks), tables[0].notes
    if name == "poll":
        assert tables[0].checks, "the poll cost is checked against its target"
        assert all(c.met for c in tables[0].checks), tables[0].checks


def test_the_report_keeps_the_written_analysis(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    table = Table("A table", ["a", "b"])
    table.add(1, 2)
    table.checks.append(Check("a target", "measured", met=False))
    run = RunInfo("python -m bench", quick=False, seconds=60.0, started="today")
    write(output, [table], [], run)
    text = output.read_text()
    assert "| a target | measured | **no** |" in text
    assert "| 1 | 2 |" in text

    written = text.replace(f"{ANALYSIS_START}\n_(none yet)_\n", f"{ANALYSIS_START}\nWhy it is slow.\n")
    output.write_text(written)
    write(output, [table], [], run)

    assert f"{ANALYSIS_START}\nWhy it is slow.\n{ANALYSIS_END}" in output.read_text()


def test_profiles_summarise_a_request_when_pyinstrument_is_there() -> None:
    pytest.importorskip("pyinstrument")
    from bench.profiles import profile_slack_requests

    profiles = profile_slack_requests(count=5)

    assert [p.title.split("`")[1] for p in profiles] == ["/license show", "/license replace"]
    assert all("ms per request" in p.headline and p.tree for p in profiles)

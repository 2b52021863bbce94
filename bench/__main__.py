"""`python -m bench`: run the benchmarks, print their tables, write docs/benchmarks.md.

python -m bench                      every benchmark at full size; writes docs/benchmarks.md
python -m bench --profile            the same, plus pyinstrument profiles (pip install pyinstrument)
python -m bench --quick              small sizes; prints only (add --output FILE to write)
python -m bench --only bulk,poll     some of them: ack, bulk, poll, footprint, shell, busy, report
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import modules
from bench.common import REPO, Table, utc_now_text
from bench.profiles import Profile, run_profiles
from bench.report import RunInfo, write

DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"


def _numbers(kind: type) -> Any:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            return tuple(kind(part) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"a comma-separated list of numbers, not {text!r}") from exc

    return parse


def _servers(text: str) -> tuple[tuple[str, int], ...]:
    servers = []
    for part in text.split(","):
        database, _, workers = part.strip().partition(":")
        if database not in {"sqlite", "postgresql"} or not (workers or "1").isdigit():
            raise argparse.ArgumentTypeError(f"servers look like sqlite:1,postgresql:2, not {text!r}")
        servers.append((database, int(workers or "1")))
    return tuple(servers)


def _parser() -> argparse.ArgumentParser:
    names = list(modules())
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a fast pass (minutes)")
    parser.add_argument(
        "--only",
        type=lambda t: [n.strip() for n in t.split(",") if n.strip()],
        help=f"some of: {', '.join(names)}",
    )
    parser.add_argument("--profile", action="store_true", help="pyinstrument profiles of the hot paths")
    parser.add_argument(
        "--output", type=Path, help=f"write the report here (default for a full run: {DEFAULT_OUTPUT})"
    )
    parser.add_argument("--no-output", action="store_true", help="print only")
    sizes = parser.add_argument_group("sizes (defaults: full run, or --quick)")
    sizes.add_argument(
        "--ack-clients", type=_numbers(int), metavar="N,N", help="concurrent clients per level"
    )
    sizes.add_argument("--ack-commands", type=_numbers(int), metavar="N,N", help="slash commands per level")
    sizes.add_argument(
        "--ack-servers", type=_servers, metavar="DB:WORKERS,…", help="e.g. sqlite:1,postgresql:2"
    )
    sizes.add_argument("--ack-threads", type=int, metavar="N", help="`serve --threads` (default 8)")
    sizes.add_argument("--ack-bursts", type=int, metavar="N", help="burst rounds per level")
    sizes.add_argument("--bulk-users", type=int, metavar="N", help="users in the bulk job")
    sizes.add_argument("--bulk-latency-ms", type=_numbers(float), metavar="MS,MS", help="per-write latencies")
    sizes.add_argument("--bulk-no-loop", action="store_true", help="skip the per-user loop")
    sizes.add_argument("--poll-pending", type=_numbers(int), metavar="N,N", help="pending subscriptions")
    sizes.add_argument("--footprint-sizes", type=_numbers(int), metavar="N,N", help="tenant sizes (users)")
    sizes.add_argument("--busy-users", type=int, metavar="N", help="users in the throttled change")
    sizes.add_argument("--busy-probes", type=int, metavar="N", help="shows and presses during the change")
    sizes.add_argument("--shell-rounds", type=int, metavar="N", help="rounds of replace + confirm")
    return parser


def _params(name: str, module: Any, args: argparse.Namespace) -> Any:
    params = module.Params.quick() if args.quick else module.Params()
    overrides: dict[str, Any] = {}
    if name == "ack":
        if args.ack_clients:
            overrides["clients"] = args.ack_clients
        if args.ack_commands:
            overrides["commands"] = args.ack_commands
        if args.ack_servers:
            overrides["servers"] = args.ack_servers
        if args.ack_threads:
            overrides["threads"] = args.ack_threads
        if args.ack_bursts is not None:
            overrides["bursts"] = args.ack_bursts
    elif name == "bulk":
        if args.bulk_users:
            overrides["users"] = args.bulk_users
        if args.bulk_latency_ms:
            overrides["write_latencies_ms"] = args.bulk_latency_ms
        if args.bulk_no_loop:
            overrides["sequential"] = False
    elif name == "poll" and args.poll_pending:
        overrides["pending"] = args.poll_pending
    elif name == "footprint" and args.footprint_sizes:
        overrides["tenant_sizes"] = args.footprint_sizes
    elif name == "busy":
        if args.busy_users:
            overrides["users"] = args.busy_users
        if args.busy_probes:
            overrides["probes"] = args.busy_probes
    elif name == "shell" and args.shell_rounds:
        overrides["rounds"] = args.shell_rounds
    return dataclasses.replace(params, **overrides)


def _without_output(argv: Sequence[str]) -> list[str]:
    """The command line as someone would reproduce it: where the report goes is theirs to choose."""
    shown: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--output":
            skip = True
        elif not arg.startswith("--output="):
            shown.append(arg)
    return shown


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    available = modules()
    chosen = args.only or list(available)
    unknown = [n for n in chosen if n not in available]
    if unknown:
        print(
            f"Unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(available)}.",
            file=sys.stderr,
        )
        return 2
    if args.ack_clients and args.ack_commands and len(args.ack_clients) != len(args.ack_commands):
        print("--ack-clients and --ack-commands need as many values each.", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)

    def log(line: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)

    started_text = utc_now_text()
    started = time.perf_counter()
    tables: list[Table] = []
    for name in chosen:
        module = available[name]
        params = _params(name, module, args)
        log(f"{name}: {params}")
        load = os.getloadavg()
        for table in module.run(params, log):
            table.notes.append(
                "Load average (1, 5, 15 min) when this benchmark started: "
                + ", ".join(f"{value:.2f}" for value in load)
                + " (anything else running on the machine shares its cores)."
            )
            tables.append(table)
            print("\n" + table.text() + "\n", flush=True)
    profiles: list[Profile] = []
    if args.profile:
        bulk_users = _params("bulk", available["bulk"], args).users
        footprint_users = max(_params("footprint", available["footprint"], args).tenant_sizes)
        profiles = run_profiles(set(chosen), bulk_users, footprint_users, log)
        for profile in profiles:
            print(f"\n{profile.title}\n{profile.headline}\n{profile.tree}\n", flush=True)
    full_run = not args.quick and not args.only
    output = None if args.no_output else args.output or (DEFAULT_OUTPUT if full_run else None)
    if output is not None:
        shown = _without_output(argv)
        command = "python -m bench" + ("" if not shown else " " + shlex.join(shown))
        run = RunInfo(command, args.quick, time.perf_counter() - started, started_text)
        write(output, tables, profiles, run)
        log(f"wrote {output}")
    missed = [c for t in tables for c in t.checks if c.met is False]
    for check in missed:
        log(f"target missed: {check.target}: {check.measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

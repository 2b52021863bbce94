"""One bot process doing one bulk replace, for the kill-and-restart test (`test_kill_replace.py`).

    python -m tests.chaos.driver --state FILE --requester lena@contoso.com --users has:E3 --product E5

It builds the production container from the environment (`bootstrap(Settings())`: DATABASE_URL,
TENANT_BACKEND=graph, GRAPH_API_URL, GRAPH_ACCESS_TOKEN), so what runs is what `licensebot serve`
runs. Every start does what a restarted bot does first: finish whatever a crash left applying
(`Licensing.resume_unfinished`). Then:

* no change set remembered in `--state` yet: plan the replace (`Licensing.plan_change`), remember
  its id in `--state` (written atomically), confirm it (`Licensing.confirm`, with the progress
  message `--channel` and `--message-ts` when given), which applies it;
* one remembered and still previewed (a kill before the confirmation was kept): confirm it;
* one remembered and still applying (a resume that left it to another owner): apply it.

It prints one JSON line (`{"change_set": ..., "state": ..., "items": {status: count}}`) and exits 0
when the change set is done, 1 otherwise.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bot.bootstrap import Container, bootstrap
from bot.settings import Settings
from domain.application.licensing import Licensing
from domain.changes import ChangeKind, ChangeSet, ChangeState
from domain.commands import ChangeLicenses, ConfirmChange


def resume(licensing: Licensing) -> list[str]:
    """`resume_unfinished(force=True)`: this process knows it is alone, so it takes over at once.
    On a build whose method takes no `force` yet, `resume_unfinished()` (asked of the signature
    rather than by catching TypeError, which would also swallow one raised inside)."""
    if "force" in inspect.signature(licensing.resume_unfinished).parameters:
        return licensing.resume_unfinished(force=True)
    return licensing.resume_unfinished()


def remembered(state: Path) -> str | None:
    text = state.read_text().strip() if state.exists() else ""
    return text or None


def remember(state: Path, change_set_id: str) -> None:
    """Written to a temporary file and renamed: a kill leaves the old content or the new, never half."""
    partial = state.with_suffix(".partial")
    with partial.open("w") as file:
        file.write(change_set_id)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(state)


def load(container: Container, change_set_id: str) -> ChangeSet:
    with container.uow() as uow:
        change_set = uow.change_sets.get(change_set_id)
    if change_set is None:
        raise SystemExit(f"driver: change set {change_set_id} is not in the bot's database")
    return change_set


def run(args: argparse.Namespace) -> int:
    container = bootstrap(Settings())
    try:
        licensing = container.services.licenses.changes
        resumed = resume(licensing)
        change_set_id = remembered(args.state)
        if change_set_id is None:
            planned = licensing.plan_change(
                ChangeLicenses(
                    ChangeKind.REPLACE,
                    args.requester,
                    tuple(args.users),
                    args.product,
                    turn_off=tuple(args.without),
                )
            )
            remember(args.state, planned.id)
            change_set_id = planned.id
        change_set = load(container, change_set_id)
        if change_set.state is ChangeState.PREVIEWED:
            confirm = ConfirmChange(
                change_set_id, args.requester, channel=args.channel, message_ts=args.message_ts
            )
            change_set = licensing.confirm(confirm)
        elif change_set.state is ChangeState.APPLYING:
            change_set = licensing.apply(change_set_id)
        statuses = Counter(item.status.value for item in change_set.items)
        summary = {
            "change_set": change_set.id,
            "state": change_set.state.value,
            "resumed": resumed,
            "items": dict(statuses),
        }
        sys.stdout.write(json.dumps(summary) + "\n")
        return 0 if change_set.state is ChangeState.DONE else 1
    finally:
        container.engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.driver", description=__doc__.split("\n")[0])
    parser.add_argument("--state", type=Path, required=True, help="file that remembers the change set id")
    parser.add_argument("--requester", required=True, help="a License admin's address (R16)")
    parser.add_argument("--users", nargs="+", required=True, help="users, or has:PRODUCT")
    parser.add_argument("--product", required=True, help="the product to replace with")
    parser.add_argument("--without", action="append", default=[], help="a service plan to turn off")
    parser.add_argument("--channel", default="", help="where the change's progress message is")
    parser.add_argument("--message-ts", default="", help="the progress message, updated with the result")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""Another admin's answers while a throttled 500-user change runs (DESIGN.md §8).

`licensebot serve` (gunicorn, its scheduler ticking every second) runs on SQLite with
TENANT_BACKEND=graph against the Graph simulator, which answers 429 with `Retry-After: 1` to a fifth
of the license writes. Lena (a License admin) replaces E3 with E5 for the 500 holders of E3 and
confirms; while it is written, Grace (a Global admin) asks `/license show @someone` and presses
Cancel on a preview of her own, one after the other, `probes` times each, one pair every few users
written (spread over the first 80 % of the change). The same is done first with nothing else
running, as the baseline.

Each request is timed twice: the acknowledgement (the HTTP answer Slack waits for) and the answer
(from sending the request to the reply arriving in the local fake Slack: the show's message, or the
preview replaced by "Cancelled"). Correctness, not only speed: every request is answered with what
it asked for, no message the fake Slack received says a database or Microsoft 365 "cannot be
reached", the serve log holds no "database is locked" and no traceback, the change is still being
written when the last answer arrives, and it then ends with each of the 500 users on E5, written
once (the simulator's own history), and nobody else written.

`tests/faults/test_throttled_change.py` runs the same (without the baseline) and asserts the
correctness half; the times are this benchmark's.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    BENCH_SECRET,
    Check,
    Cohort,
    Log,
    Table,
    bench_name,
    bench_upn,
    bench_user_id,
    ms,
    no_log,
    percentile,
    serve,
    settled_change_message,
    sim_tenant_file,
)
from handlers.ids import CANCEL_CHANGE, CONFIRM_CHANGE

NAME = "busy"
TITLE = "Another admin's answers while a throttled 500-user change runs (SQLite, Graph backend)"
TARGET_SECONDS = 1.0
TOKEN = "bench-busy-graph-token"
APP = "licensebot-bench-busy"
MOVERS = "mover"
"""The cohort that holds E3 and moves to E5: the only holders of E3."""
SIDE = "side"
"""The cohort whose previews Grace cancels (they hold Office 365 F3; nothing is written for them)."""
REQUESTER = "lena@contoso.com"
"""A License admin of the demo tenant: asks for the bulk change and confirms it."""
OTHER_ADMIN = "grace@contoso.com"
"""A Global admin of the demo tenant: the other admin, whose answers are timed."""
E3_PART, E5_PART, F3_PART = "ENTERPRISEPACK", "ENTERPRISEPREMIUM", "DESKLESSPACK"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
CONFIRM, CANCEL = CONFIRM_CHANGE, CANCEL_CHANGE
UNREACHABLE = ("cannot be reached", "could not be reached")
"""What the bot says when its database (or Microsoft 365) is unusable: must never appear."""
BAD_LOG_LINES = ("database is locked", "Traceback", " ERROR ", "[ERROR]", " CRITICAL ")


@dataclass(frozen=True)
class Params:
    users: int = 500
    """Users in the bulk change (E3 → E5)."""
    probes: int = 50
    """`/license show` and Cancel presses each, per phase (idle, then during the change)."""
    throttle: float = 0.2
    """Share of license writes the simulator answers with 429 + Retry-After."""
    retry_after_seconds: int = 1
    answer_timeout_seconds: float = 30.0
    change_timeout_seconds: float = 600.0
    poll_interval_seconds: float = 1.0
    """The serve process's scheduler ticks this often, so its ticks run during the change too."""
    seed: int = 1
    baseline: bool = True
    """The same requests first with nothing else running (the test leaves them out)."""

    @classmethod
    def quick(cls) -> Params:
        return cls(probes=20)

    @classmethod
    def tiny(cls) -> Params:
        return cls(users=40, probes=3)


# ---------------------------------------------------------------------------------------------
# What was measured
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    kind: str
    """"show" or "cancel"."""
    ack_seconds: float
    """Request sent → HTTP answer (the acknowledgement Slack waits for)."""
    answer_seconds: float
    """Request sent → the reply in Slack (NaN: none arrived in time)."""
    status: int
    text: str

    @property
    def answered(self) -> bool:
        return not math.isnan(self.answer_seconds)


@dataclass
class Run:
    """One run: the answers of each phase and what was checked."""

    idle: list[Answer] = field(default_factory=list)
    busy: list[Answer] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    running_at_last_answer: bool = False
    """The change was still being written when the last answer of the busy phase arrived."""
    written_at_last_answer: int = 0
    change_seconds: float = 0.0
    """Confirm pressed → the change's result in place of its message."""
    throttled: int = 0
    """429s the simulator sent during the change."""
    writes: dict[str, int] = field(default_factory=dict)
    """User id → license writes the simulator applied during the change."""
    ticks_during_change: int = 0


# ---------------------------------------------------------------------------------------------
# The tenant, the simulator, the bot
# ---------------------------------------------------------------------------------------------


def tenant_file(path: Path, params: Params) -> str:
    """The demo tenant with `users` E3 holders (the only ones), `2 × probes` F3 holders and E5
    seats for all of them, in a SQLite file for the simulator."""
    url = sim_tenant_file(
        path,
        [Cohort(MOVERS, params.users, E3_PART), Cohort(SIDE, 2 * params.probes, F3_PART)],
        {E5_PART: params.users + 2 * params.probes + 10},
    )
    movers = [bench_user_id(i, MOVERS) for i in range(1, params.users + 1)]
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        marks = ",".join("?" * len(movers))
        db.execute(
            f"delete from sim_user_licenses where sku_id = ? and user_id not in ({marks})",
            [E3, *movers],
        )
    return url


class SlackEvents:
    """Every event of the fake Slack, with the moment it arrived, to wait for answers."""

    def __init__(self, slack: Any) -> None:
        self._changed = threading.Condition()
        self._events: list[tuple[float, Any]] = []
        self._unsubscribe = slack.subscribe(self._record)

    def _record(self, event: Any) -> None:
        with self._changed:
            self._events.append((time.perf_counter(), event))
            self._changed.notify_all()

    def mark(self) -> int:
        with self._changed:
            return len(self._events)

    def wait(self, since: int, matches: Callable[[Any], bool], timeout: float) -> tuple[float, Any] | None:
        """The first event from index `since` on that `matches`, with its arrival time; None after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for at, event in self._events[since:]:
                    if matches(event):
                        return at, event
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def close(self) -> None:
        self._unsubscribe()


class Workspace:
    """The Slack side: Lena, Grace, a channel, and a Slack user for every tenant user named."""

    def __init__(self, slack: Any, url: str, secret: str) -> None:
        self.slack = slack
        self.lena = slack.add_user("lena", real_name="Lena Fischer", email=REQUESTER)
        self.grace = slack.add_user("grace", real_name="Grace Kim", email=OTHER_ADMIN)
        self.channel = slack.add_channel("licensing", members=[self.lena, self.grace])
        self.events = SlackEvents(slack)
        self._secret = secret
        self._target = urlsplit(url)
        self._ids: dict[str, str] = {}

    def mention(self, upn: str) -> str:
        if upn not in self._ids:
            name = upn.partition("@")[0]
            self._ids[upn] = self.slack.add_user(name, real_name=name, email=upn)
        return f"<@{self._ids[upn]}|{upn.partition('@')[0]}>"

    def post(self, body: str) -> int:
        """A signed request to the bot, as Slack sends it; the HTTP status (0: no answer)."""
        from bot.local_slack import signed_headers

        payload = body.encode()
        connection = http.client.HTTPConnection(self._target.hostname, self._target.port, timeout=30)
        try:
            headers = {**signed_headers(body, self._secret), "Content-Length": str(len(payload))}
            connection.request("POST", self._target.path, body=payload, headers=headers)
            response = connection.getresponse()
            response.read()
            return int(response.status)
        except OSError:
            return 0
        finally:
            connection.close()

    def command(self, who: str, text: str) -> str:
        body: str = self.slack.slash_command_body("/license", text, user_id=who, channel_id=self.channel)
        return body

    def timed(
        self, kind: str, body: str, answered: Callable[[Any], bool], timeout: float
    ) -> tuple[Answer, Any]:
        """Send `body`; its answer (the first event that `answered`) and what it was about."""
        since = self.events.mark()
        sent = time.perf_counter()
        status = self.post(body)
        acked = time.perf_counter() - sent
        found = self.events.wait(since, answered, timeout)
        if found is None:
            return Answer(kind, acked, float("nan"), status, ""), None
        at, event = found
        return Answer(kind, acked, at - sent, status, text_of(event.subject)), event.subject

    def show(self, upn: str, timeout: float) -> Answer:
        """Grace asks `/license show @user`; answered by an ephemeral reply to her."""
        body = self.command(self.grace, f"show {self.mention(upn)}")
        return self.timed("show", body, lambda e: _ephemeral_to(e, self.grace), timeout)[0]

    def preview(self, upn: str, timeout: float) -> Any:
        """Grace's own preview of `/license replace @user E5`, with its Cancel button."""
        body = self.command(self.grace, f"replace {self.mention(upn)} E5")
        answer, message = self.timed("preview", body, lambda e: _ephemeral_to(e, self.grace), timeout)
        if message is None or f"'action_id': '{CANCEL}'" not in str(message.blocks):
            raise RuntimeError(f"no preview to cancel for {upn}: {answer.text or 'no answer'}")
        return message

    def cancel(self, preview: Any, timeout: float) -> Answer:
        """Grace presses Cancel on her preview; answered by the preview replaced by the result (or
        any reply to her)."""
        body = self.slack.action_body(
            self.grace, action_id=CANCEL, channel=preview.channel, message_ts=preview.ts
        )

        def answered(event: Any) -> bool:
            subject = event.subject
            return getattr(subject, "ts", None) == preview.ts or _ephemeral_to(event, self.grace)

        return self.timed("cancel", body, answered, timeout)[0]


def _ephemeral_to(event: Any, user: str) -> bool:
    return str(event.kind) == "ephemeral" and getattr(event.subject, "recipient", None) == user


def text_of(subject: Any) -> str:
    return f"{getattr(subject, 'text', '')} {getattr(subject, 'blocks', '')}"


@dataclass
class Bot:
    """What a run drives: the Slack workspace, the simulator, the serve process."""

    workspace: Workspace
    graph: Any
    log_path: Path
    params: Params


@contextlib.contextmanager
def running(params: Params, folder: Path, log: Log = no_log) -> Iterator[Bot]:
    """The simulator on the grown tenant, the fake Slack, and `licensebot serve` on a fresh SQLite
    database with TENANT_BACKEND=graph; stopped on exit."""
    from bot.local_slack import LocalSlack
    from storage.graph_sim import DatabaseTenant, FaultPlan, GraphSimulator

    log(f"busy: a tenant with {params.users:,} holders of E3 and {2 * params.probes} of F3")
    url = tenant_file(folder / "graph-tenant.db", params)
    plan = FaultPlan(
        throttle=params.throttle,
        writes_only=True,
        retry_after_seconds=params.retry_after_seconds,
        seed=params.seed,
    )
    tenant = DatabaseTenant(url, seed_demo=False)
    try:
        with (
            GraphSimulator(tenant, tokens={TOKEN: APP}, page_size=999, faults=plan) as graph,
            LocalSlack() as slack,
            serve(
                database_url=f"sqlite:///{folder / 'bot.db'}",
                slack_api_url=slack.api_url,
                bot_token=slack.bot_token,
                workdir=folder,
                extra_env={
                    "TENANT_BACKEND": "graph",
                    "GRAPH_API_URL": graph.url,
                    "GRAPH_ACCESS_TOKEN": TOKEN,
                    "POLL_INTERVAL_SECONDS": str(params.poll_interval_seconds),
                    "LOG_LEVEL": "INFO",
                },
            ) as server,
        ):
            workspace = Workspace(slack, server.events_url, BENCH_SECRET)
            try:
                yield Bot(workspace, graph, server.log_path, params)
            finally:
                workspace.events.close()
    finally:
        tenant.close()


# ---------------------------------------------------------------------------------------------
# One run: the baseline, then the same during the change
# ---------------------------------------------------------------------------------------------


def probe(
    bot: Bot, previews: list[Any], first_show: int, before: Callable[[int], None] | None = None
) -> list[Answer]:
    """`probes` × (show, then Cancel on the next preview), one request after the other; `before(n)`
    is called before the n-th pair (to spread them over the change). Stops at the first request
    left unanswered: the bot is not answering, and waiting for each of the others would only delay
    the verdict."""
    ws, params = bot.workspace, bot.params
    answers: list[Answer] = []
    for n, preview in enumerate(previews):
        if before is not None:
            before(n)
        shown = 1 + (first_show + n) % params.users
        answers.append(ws.show(bench_upn(shown, MOVERS), params.answer_timeout_seconds))
        answers.append(ws.cancel(preview, params.answer_timeout_seconds))
        if not all(a.answered for a in answers[-2:]):
            break
    return answers


def writes_reach(bot: Bot, count: int, timeout: float) -> bool:
    """Wait until the simulator has applied `count` license writes (False after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while bot.graph.stats().total_writes_applied < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def check_answers(answers: list[Answer], phase: str, first_show: int, params: Params) -> list[str]:
    problems: list[str] = []
    shows = [a for a in answers if a.kind == "show"]
    cancels = [a for a in answers if a.kind == "cancel"]
    if len(shows) != params.probes or len(cancels) != params.probes:
        problems.append(
            f"{phase}: {len(shows)} shows and {len(cancels)} presses sent of {params.probes} each"
        )
    not_acked = [a for a in answers if a.status != 200]
    if not_acked:
        problems.append(f"{phase}: {len(not_acked)} requests not acknowledged with 200")
    for n, answer in enumerate(shows):
        name = bench_name(1 + (first_show + n) % params.users, MOVERS)
        if not answer.answered or name not in answer.text:
            problems.append(f"{phase}: show {n + 1} not answered with {name}: {answer.text[:200]!r}")
    for n, answer in enumerate(cancels):
        if not answer.answered or "Cancelled" not in answer.text:
            problems.append(f"{phase}: Cancel {n + 1} not answered with its result: {answer.text[:200]!r}")
    return problems


def slack_problems(slack: Any) -> list[str]:
    """Every call the bot made to the fake Slack: none failed, none says something is unreachable."""
    problems = []
    failed = [c for c in slack.calls() if not c.ok]
    if failed:
        problems.append(f"{len(failed)} Slack calls failed: {failed[:3]}")
    unreachable = [c for c in slack.calls() if any(s in str(c.params) for s in UNREACHABLE)]
    if unreachable:
        problems.append(f"{len(unreachable)} messages say something cannot be reached: {unreachable[0]}")
    return problems


def log_problems(log_path: Path) -> list[str]:
    text = log_path.read_text(errors="replace")
    bad = [line for line in text.splitlines() if any(s in line for s in BAD_LOG_LINES)]
    return [f"serve log: {len(bad)} bad lines, first: {bad[0][:300]}"] if bad else []


def tenant_problems(bot: Bot, history: dict[str, list[tuple[set[str], set[str]]]]) -> list[str]:
    """Each mover written once, from E3 straight to E5; nobody else written."""
    users = bot.params.users
    movers = {bench_user_id(i, MOVERS) for i in range(1, users + 1)}
    problems = []
    if set(history) != movers:
        problems.append(
            f"written: {len(set(history) & movers)} of {users} movers, {len(set(history) - movers)} others"
        )
    twice = [u for u, writes in history.items() if len(writes) != 1]
    if twice:
        problems.append(f"{len(twice)} users written more than once")
    wrong = [u for u, writes in history.items() if E3 not in writes[0][0] or writes[-1][1] != {E5}]
    if wrong:
        problems.append(f"{len(wrong)} users not moved from E3 straight to E5")
    return problems


def license_history(database: Path, after_seq: int) -> dict[str, list[tuple[set[str], set[str]]]]:
    """The simulator's record of license writes after `after_seq`: user id → (before, after) SKUs."""
    import json

    history: dict[str, list[tuple[set[str], set[str]]]] = {}
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "select user_id, before, after from sim_license_events where seq > ? order by seq", [after_seq]
        ).fetchall()
    for user_id, before, after in rows:
        skus = ({i["skuId"] for i in json.loads(before)}, {i["skuId"] for i in json.loads(after)})
        history.setdefault(user_id, []).append(skus)
    return history


def last_event(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return int(db.execute("select coalesce(max(seq), 0) from sim_license_events").fetchone()[0])


def ticks(log_path: Path) -> int:
    """Scheduler runs the serve log shows (APScheduler logs each one it starts)."""
    return log_path.read_text(errors="replace").count('Running job "WorkflowScheduler._tick_safely')


def measure(params: Params, folder: Path, log: Log = no_log) -> Run:
    """The baseline, then the change with the same requests during it; every check done."""
    run = Run()
    with running(params, folder, log) as bot:
        phases = 2 if params.baseline else 1
        sides = [bench_upn(i, SIDE) for i in range(1, phases * params.probes + 1)]
        log(f"busy: {len(sides)} previews for Grace to cancel")
        previews = [bot.workspace.preview(upn, params.answer_timeout_seconds) for upn in sides]
        if params.baseline:
            log(f"busy: baseline, {params.probes} × (show, Cancel) with nothing else running")
            run.idle = probe(bot, previews[: params.probes], 0)
            run.problems += check_answers(run.idle, "baseline", 0, params)
        database = folder / "graph-tenant.db"
        before = last_event(database)
        _during_change(bot, previews[-params.probes :], run, log)
        run.problems += tenant_problems(bot, license_history(database, before))
        run.problems += slack_problems(bot.workspace.slack)
        run.problems += log_problems(bot.log_path)
    return run


def _during_change(bot: Bot, previews: list[Any], run: Run, log: Log) -> None:
    """Lena's change confirmed, the pairs sent while it runs, and the change waited for."""
    ws, params = bot.workspace, bot.params
    log(f"busy: Lena replaces E3 with E5 for {params.users:,} users and confirms")
    change = _bulk_preview(bot)
    bot.graph.reset_stats()
    ticks_before = ticks(bot.log_path)
    started = time.perf_counter()
    since = ws.events.mark()
    confirm = ws.slack.action_body(ws.lena, action_id=CONFIRM, channel=ws.channel, message_ts=change.ts)
    if ws.post(confirm) != 200:
        run.problems.append("Confirm was not acknowledged")
    if not writes_reach(bot, 1, params.answer_timeout_seconds):
        run.problems.append(f"nothing written {params.answer_timeout_seconds:g} s after Confirm")
    # The pairs are spread over the first 80 % of the writes: pair n goes once n × `step` users
    # are written, so the answers sample the whole change, its Retry-After waits and the
    # scheduler's ticks, and the last one still comes well before its end.
    step = spread_step(params)
    deadline = time.monotonic() + params.change_timeout_seconds

    def spread(n: int) -> None:
        writes_reach(bot, max(1, n * step), max(0.0, deadline - time.monotonic()))

    log(f"busy: {params.probes} × (show, Cancel) while the change runs, one every {step} writes")
    run.busy = probe(bot, previews, params.probes, spread)
    run.problems += check_answers(run.busy, "during the change", params.probes, params)
    run.written_at_last_answer = bot.graph.stats().total_writes_applied
    current = ws.slack.message(ws.channel, change.ts)
    run.running_at_last_answer = (
        not settled_change_message(current) and run.written_at_last_answer < params.users
    )
    if not run.running_at_last_answer:
        run.problems.append(
            f"the change was over before the last answer ({run.written_at_last_answer} written)"
        )

    log("busy: waiting for the change to end")
    done = ws.events.wait(
        since,
        lambda e: getattr(e.subject, "ts", None) == change.ts and settled_change_message(e.subject),
        params.change_timeout_seconds,
    )
    if done is None:
        run.problems.append(f"the change did not end within {params.change_timeout_seconds:g} s")
    run.change_seconds = (done[0] if done else time.perf_counter()) - started
    stats = bot.graph.stats()
    run.throttled = stats.throttled
    run.writes = dict(stats.writes_applied)
    run.ticks_during_change = ticks(bot.log_path) - ticks_before
    result = text_of(ws.slack.message(ws.channel, change.ts))
    if done is not None and "Licenses replaced" not in result:
        run.problems.append(f"the change's result: {result[:300]!r}")


def spread_step(params: Params) -> int:
    """Users written between two pairs of requests during the change."""
    return max(1, params.users * 4 // (5 * params.probes))


def _bulk_preview(bot: Bot) -> Any:
    """Lena's `/license replace has:E3 E5`: its shared preview in the channel, with Confirm."""
    ws = bot.workspace
    since = ws.events.mark()
    if ws.post(ws.command(ws.lena, "replace has:E3 E5")) != 200:
        raise RuntimeError("the bulk replace was not acknowledged")

    def preview(event: Any) -> bool:
        subject = event.subject
        return getattr(subject, "channel", None) == ws.channel and f"'action_id': '{CONFIRM}'" in str(
            getattr(subject, "blocks", "")
        )

    found = ws.events.wait(since, preview, bot.params.answer_timeout_seconds)
    if found is None:
        raise RuntimeError(f"no preview of the bulk replace: {ws.slack.calls()[-3:]}")
    return found[1].subject


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------


def run(params: Params, log: Log = no_log) -> list[Table]:
    with tempfile.TemporaryDirectory(prefix="licensebot-bench-busy-") as tmp:
        result = measure(params, Path(tmp), log)
    table = Table(
        TITLE,
        [
            "phase",
            "request",
            "n",
            "ack p50 ms",
            "ack p99 ms",
            "answer p50 ms",
            "answer p99 ms",
            "answer max ms",
        ],
    )
    for phase, answers in (("nothing else running", result.idle), ("during the change", result.busy)):
        for kind, label in (("show", "`/license show @user`"), ("cancel", "Cancel on an own preview")):
            mine = [a for a in answers if a.kind == kind]
            acks = [a.ack_seconds for a in mine]
            times = [a.answer_seconds for a in mine if a.answered]
            table.add(
                phase,
                label,
                len(mine),
                ms(percentile(acks, 0.5)),
                ms(percentile(acks, 0.99)),
                ms(percentile(times, 0.5)),
                ms(percentile(times, 0.99)),
                ms(max(times) if times else float("nan")),
            )
    busy = [a.answer_seconds for a in result.busy if a.answered]
    for kind, label in (("show", "`/license show`"), ("cancel", "button press (Cancel)")):
        times = [a.answer_seconds for a in result.busy if a.kind == kind and a.answered]
        p99 = percentile(times, 0.99)
        table.checks.append(
            Check(
                f"Another admin's {label} answered in < {TARGET_SECONDS:g} s (p99) while a "
                f"{params.users}-user change runs, SQLite, 429 on {params.throttle:.0%} of writes",
                f"p99 {ms(p99)} ms over {len(times)}" + ("" if not result.problems else "; PROBLEMS"),
                bool(times) and p99 < TARGET_SECONDS and not result.problems,
            )
        )
    log(
        f"busy: during the change p50 {ms(percentile(busy, 0.5))} ms, p99 {ms(percentile(busy, 0.99))} ms; "
        + ("all checks passed" if not result.problems else "PROBLEMS: " + "; ".join(result.problems))
    )
    table.notes += [
        f"`licensebot serve` (gunicorn, 1 worker, 8 threads, its scheduler ticking every "
        f"{params.poll_interval_seconds:g} s) on SQLite with TENANT_BACKEND=graph; the Graph simulator "
        f"(429 with Retry-After: {params.retry_after_seconds} on {params.throttle:.0%} of license writes) "
        "and the fake Slack run in the benchmark's process; every process shares this machine's cores.",
        f"Grace sends her requests one after the other: `/license show` of a user of the change, then "
        f"Cancel on one of her own previews, {params.probes} times each; both write to the bot's database "
        "(every request claims its delivery key right after the ack; Cancel also saves the change and "
        "its audit). They are sent "
        "first with nothing else running, then during the change, one pair each time another "
        f"{spread_step(params)} users are written (spread over its first 80 %). "
        "`ack`: the HTTP answer Slack waits for; `answer`: from sending the request to the reply in Slack"
        + (f" (with {params.probes} of each, p99 is the slowest one)." if params.probes <= 100 else "."),
        f"The change: {params.users} users in {result.change_seconds:.1f} s from Confirm to its result, "
        f"{result.throttled} writes answered 429 and written again after reading the user back, "
        f"{sum(result.writes.values())} writes applied; {result.written_at_last_answer} of them "
        "when the last answer arrived, so every answer of the second phase came while it ran. "
        f"{result.ticks_during_change} scheduler ticks ran during it.",
        "Checked: every request answered with what it asked for; no message says something cannot be "
        "reached; no `database is locked`, error or traceback in the serve log; every user of the "
        "change ends on E5, written once from E3 (the simulator's history), nobody else written."
        + ("" if not result.problems else " PROBLEMS: " + "; ".join(result.problems)),
    ]
    return [table]

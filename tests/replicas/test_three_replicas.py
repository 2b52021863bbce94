"""Three `licensebot serve` processes on one PostgreSQL database and the Graph simulator (issue #6).

Each replica is a real gunicorn server with its own scheduler (polling every second, leases of a
few seconds); the test plays Slack (a local fake Web API, signed requests) and a load balancer
(requests spread over the replicas). The simulator counts every license write, and its event log
shows each user's licenses before and after every write.

- 20 switch workflows (300 users) started, confirmed and closed on different replicas: every write
  happens once, every workflow ends.
- The replica applying the moves is killed (SIGKILL) mid-batch: the others take over once its
  leases run out; nothing is lost, nothing is written twice, nobody is ever without a license.
- The same request delivered to two replicas at once, and Confirm clicked on two replicas: one
  effect.
- A replica stopped gracefully (SIGTERM, as in a deploy) mid-job gives its leases back on the way
  out; another one finishes the job.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from bench.common import BENCH_SECRET, Cohort, Serve, bench_upn, postgres_database, serve, sim_tenant_file
from bot.local_slack import LocalSlack, Message, render_blocks, signed_headers
from storage.graph_sim import DatabaseTenant, GraphSimulator
from storage.orm import SimLicenseEventRow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOKEN = "replicas-test-token"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
WORKFLOWS = 20
PER_WORKFLOW = 15
KILL_WORKFLOWS = 4
KILL_PER_WORKFLOW = 40
LEASE_SECONDS = 4
GRACEFUL_USERS = 140  # the most one command holds (3,000 characters)
TIMEOUT = 150.0
CONFIRM = "workflow.choice.confirm"
SKIP = "workflow.choice.skip"


def text_of(message: Message | None) -> str:
    """What a person sees, and the message's notification text (it says when a workflow is done)."""
    if message is None:
        return ""
    shown = render_blocks(message.blocks, message.text).text.replace("*", "").replace("`", "")
    return f"{message.text}\n{shown}"


@dataclass
class Cluster:
    slack: LocalSlack
    graph: GraphSimulator
    sim: DatabaseTenant
    replicas: list[Serve]
    channel: str
    bill: str
    http: httpx.Client
    database: str

    def post(self, replica: int, body: str, **headers: Any) -> int:
        response = self.http.post(
            self.replicas[replica].events_url,
            content=body,
            headers=signed_headers(body, BENCH_SECRET, **headers),
        )
        return response.status_code

    def command(self, replica: int, text: str, command: str = "/subscription") -> int:
        body = self.slack.slash_command_body(command, text, user_id=self.bill, channel_id=self.channel)
        return self.post(replica, body)

    def click_body(self, message: Message, action_id: str) -> str:
        return self.slack.action_body(
            self.bill, action_id=action_id, channel=message.channel, message_ts=message.ts
        )

    def message(self, ts: str) -> Message | None:
        return self.slack.message(self.channel, ts)

    def wait(self, predicate: Any, description: str) -> Any:
        return self.slack.wait_for(predicate, timeout=TIMEOUT, description=description)

    def leases_of(self, pids: list[int]) -> list[str]:
        """The leases (named, and on workflows) whose owner is one of these processes."""
        from storage.database import create_engine

        prefixes = [f"{socket.gethostname()[:24]}:{pid}:" for pid in pids]
        engine = create_engine(self.database)
        try:
            with engine.connect() as connection:
                names = [
                    f"{n} {o}" for n, o in connection.execute(text("select name, owner from work_leases"))
                ]
                names += [
                    f"workflow {i} {o}"
                    for i, o in connection.execute(
                        text("select id, lease_owner from workflows where lease_owner is not null")
                    )
                ]
        finally:
            engine.dispose()
        return [n for n in names if any(p in n for p in prefixes)]

    def writes(self) -> int:
        return self.graph.stats().total_writes_applied

    def events(self, prefix: str) -> list[SimLicenseEventRow]:
        from storage.database import session_factory

        with session_factory(self.sim.engine)() as session:
            rows = session.scalars(select(SimLicenseEventRow).order_by(SimLicenseEventRow.seq)).all()
            session.expunge_all()
        ids = _user_ids(self.sim, prefix)
        return [row for row in rows if row.user_id in ids]

    def licenses(self, prefix: str) -> dict[str, set[str]]:
        from storage.database import session_factory
        from storage.orm import SimUserLicenseRow, SimUserRow

        with session_factory(self.sim.engine)() as session:
            rows = session.execute(
                select(SimUserRow.user_principal_name, SimUserLicenseRow.sku_id)
                .join(SimUserLicenseRow, SimUserLicenseRow.user_id == SimUserRow.id, isouter=True)
                .where(SimUserRow.user_principal_name.startswith(prefix))
            ).all()
        found: dict[str, set[str]] = {}
        for upn, sku in rows:
            found.setdefault(upn, set()).update({sku} if sku else set())
        return found


def _user_ids(sim: DatabaseTenant, prefix: str) -> set[str]:
    from storage.database import session_factory
    from storage.orm import SimUserRow

    with session_factory(sim.engine)() as session:
        return set(
            session.scalars(select(SimUserRow.id).where(SimUserRow.user_principal_name.startswith(prefix)))
        )


@pytest.fixture(scope="module")
def cluster(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("replicas")
    cohorts = [
        Cohort("mv", WORKFLOWS * PER_WORKFLOW, "ENTERPRISEPACK"),
        Cohort("kl", KILL_WORKFLOWS * KILL_PER_WORKFLOW, "ENTERPRISEPACK"),
        Cohort("dd", 4, "ENTERPRISEPACK"),
        Cohort("gs", GRACEFUL_USERS, "ENTERPRISEPACK"),
    ]
    seats = {"ENTERPRISEPREMIUM": sum(c.count for c in cohorts)}
    sim_url = sim_tenant_file(folder / "graph-sim.db", cohorts, seats)
    with ExitStack() as stack:
        database = stack.enter_context(postgres_database(postgres_url))
        sim = DatabaseTenant(sim_url, seed_demo=False)
        stack.callback(sim.close)
        # Each write takes a little while, as on Graph: a kill lands in the middle of a batch.
        graph = stack.enter_context(GraphSimulator(sim, tokens={TOKEN: "licensebot"}, write_latency_ms=60))
        slack = stack.enter_context(LocalSlack())
        env = {
            "TENANT_BACKEND": "graph",
            "GRAPH_API_URL": graph.url,
            "GRAPH_ACCESS_TOKEN": TOKEN,
            "POLL_INTERVAL_SECONDS": "1",
            "LEASE_SECONDS": str(LEASE_SECONDS),
            "LOG_LEVEL": "INFO",
        }
        # The release step, once, before any replica starts (docs/deployment.md).
        subprocess.run(
            [str(Path(sys.executable).with_name("licensebot")), "db", "upgrade"],
            env={**os.environ, "DATABASE_URL": database},
            check=True,
            capture_output=True,
        )
        replicas = [
            stack.enter_context(
                serve(
                    database_url=database,
                    slack_api_url=slack.api_url,
                    bot_token=slack.bot_token,
                    workdir=folder,
                    threads=4,
                    extra_env=env,
                )
            )
            for _ in range(3)
        ]
        bill = slack.add_user("bill", real_name="Bill Billing", email="bill@contoso.com")
        channel = slack.add_channel("licensing", members=[bill])
        # A new connection per request, as Slack delivers them: a pooled keep-alive connection that
        # gunicorn closes after its 2 s keep-alive would fail a POST that happens to reuse it.
        http = stack.enter_context(httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0)))
        yield Cluster(slack, graph, sim, replicas, channel, bill, http, database)


def _start_switches(
    cluster: Cluster,
    prefix: str,
    count: int,
    size: int,
    header: str,
    *,
    replicas: tuple[int, ...] = (0, 1, 2),
) -> list[str]:
    """`/subscription switch E3 E5 <users>` per workflow, round robin over `replicas`; the ts of
    each workflow's checklist, in order."""
    seen = {m.ts for m in cluster.slack.messages(cluster.channel)}
    for n in range(count):
        users = " ".join(bench_upn(n * size + i, prefix) for i in range(1, size + 1))
        assert cluster.command(replicas[n % len(replicas)], f"switch E3 E5 {users}") == 200

    def checklists() -> list[str] | None:
        found = [
            m.ts for m in cluster.slack.messages(cluster.channel) if m.ts not in seen and header in text_of(m)
        ]
        return found if len(found) >= count else None

    found: list[str] = cluster.wait(checklists, f"{count} checklists")
    assert len(found) == count, "one checklist per workflow, whichever replica ran it"
    return found


def _wait_text(cluster: Cluster, ts: str, containing: str) -> Message:
    def ready() -> Message | None:
        message = cluster.message(ts)
        return message if containing in text_of(message) else None

    found: Message = cluster.wait(ready, f"checklist {ts} showing {containing!r}")
    return found


def _assert_moved_once(cluster: Cluster, prefix: str, users: int) -> None:
    licenses = cluster.licenses(prefix)
    assert len(licenses) == users
    assert all(skus == {E5} for skus in licenses.values()), "everyone on E5, nobody left on E3"
    events = cluster.events(prefix)
    per_user = Counter(event.user_id for event in events)
    assert len(per_user) == users
    assert set(per_user.values()) == {1}, "each user written exactly once"
    for event in events:
        assert {lic["skuId"] for lic in event.before} == {E3}
        assert [lic["skuId"] for lic in event.after] == [E5], "never without a license"


def test_three_replicas_run_twenty_workflows_and_write_each_move_once(cluster: Cluster) -> None:
    writes_before = cluster.writes()
    header = f"Switch {PER_WORKFLOW} users from Office 365 E3 to Office 365 E5"
    checklists = _start_switches(cluster, "mv", WORKFLOWS, PER_WORKFLOW, header)
    previews = [_wait_text(cluster, ts, "waiting for confirmation") for ts in checklists]

    for n, preview in enumerate(previews):  # confirmed on another replica than the one that started it
        assert cluster.post((n + 1) % 3, cluster.click_body(preview, CONFIRM)) == 200
    offers = [_wait_text(cluster, ts, "Remove the unused licenses") for ts in checklists]
    for n, offer in enumerate(offers):
        assert cluster.post((n + 2) % 3, cluster.click_body(offer, SKIP)) == 200
    for ts in checklists:
        _wait_text(cluster, ts, "— done")

    assert cluster.writes() - writes_before == WORKFLOWS * PER_WORKFLOW
    _assert_moved_once(cluster, "mv", WORKFLOWS * PER_WORKFLOW)


def test_a_replica_killed_mid_batch_leaves_its_moves_to_the_others(cluster: Cluster) -> None:
    header = f"Switch {KILL_PER_WORKFLOW} users from Office 365 E3 to Office 365 E5"
    checklists = _start_switches(cluster, "kl", KILL_WORKFLOWS, KILL_PER_WORKFLOW, header)
    previews = [_wait_text(cluster, ts, "waiting for confirmation") for ts in checklists]
    victim = cluster.replicas[0]
    writes_before = cluster.writes()
    total = KILL_WORKFLOWS * KILL_PER_WORKFLOW

    for preview in previews:  # every confirmation lands on replica 0, which runs the moves
        assert cluster.post(0, cluster.click_body(preview, CONFIRM)) == 200
    cluster.wait(lambda: cluster.writes() - writes_before >= total // 4, "a quarter of the moves written")
    for pid in [victim.process.pid, *_children(victim.process.pid)]:
        os.kill(pid, signal.SIGKILL)
    victim.process.wait(timeout=10)
    killed_at = cluster.writes() - writes_before
    assert 0 < killed_at < total, "killed in the middle of the job"
    print(f"\nreplicas: replica 0 killed after {killed_at} of {total} writes")  # noqa: T201

    for n, ts in enumerate(checklists):
        offer = _wait_text(cluster, ts, "Remove the unused licenses")
        assert cluster.post(1 + n % 2, cluster.click_body(offer, SKIP)) == 200
    for ts in checklists:
        _wait_text(cluster, ts, "— done")
    assert cluster.writes() - writes_before == total
    _assert_moved_once(cluster, "kl", total)


def test_the_same_request_and_a_double_click_on_two_replicas_have_one_effect(cluster: Cluster) -> None:
    live = [n for n, replica in enumerate(cluster.replicas) if replica.process.poll() is None][:2]
    assert len(live) == 2
    users = " ".join(bench_upn(i, "dd") for i in range(1, 5))
    writes_before = cluster.writes()
    seen = {m.ts for m in cluster.slack.messages(cluster.channel)}
    body = cluster.slack.slash_command_body(
        "/subscription", f"switch E3 E5 {users}", user_id=cluster.bill, channel_id=cluster.channel
    )
    _at_once(lambda n: cluster.post(live[n], body, retry_num=n or None))

    def checklists() -> list[Message]:
        return [
            m
            for m in cluster.slack.messages(cluster.channel)
            if m.ts not in seen and "Switch 4 users" in text_of(m)
        ]

    [checklist] = cluster.wait(lambda: checklists() or None, "the checklist")
    preview = _wait_text(cluster, checklist.ts, "waiting for confirmation")
    clicks = [cluster.click_body(preview, CONFIRM) for _ in range(2)]  # two presses, two trigger ids
    _at_once(lambda n: cluster.post(live[n], clicks[n]))
    offer = _wait_text(cluster, checklist.ts, "Remove the unused licenses")
    assert cluster.post(live[0], cluster.click_body(offer, SKIP)) == 200
    _wait_text(cluster, checklist.ts, "— done")

    assert len(checklists()) == 1, "the request delivered twice started one workflow"
    assert cluster.writes() - writes_before == 4
    _assert_moved_once(cluster, "dd", 4)


def test_a_replica_stopped_gracefully_gives_its_work_back_at_once(cluster: Cluster) -> None:
    live = [n for n, replica in enumerate(cluster.replicas) if replica.process.poll() is None]
    stopping, other = cluster.replicas[live[-1]], live[0]
    header = f"Switch {GRACEFUL_USERS} users from Office 365 E3 to Office 365 E5"
    [checklist] = _start_switches(cluster, "gs", 1, GRACEFUL_USERS, header, replicas=(other,))
    preview = _wait_text(cluster, checklist, "waiting for confirmation")
    workers = _children(stopping.process.pid)
    writes_before = cluster.writes()

    assert cluster.post(live[-1], cluster.click_body(preview, CONFIRM)) == 200
    held = cluster.wait(lambda: cluster.leases_of(workers), "the stopping replica holding the change")
    cluster.wait(lambda: cluster.writes() > writes_before, "the first writes")
    stopping.process.send_signal(signal.SIGTERM)  # a deploy: gunicorn stops gracefully
    assert stopping.process.wait(timeout=60) == 0
    left = cluster.writes() - writes_before
    assert cluster.leases_of(workers) == [], f"given back on the way out (held {held})"
    assert left < GRACEFUL_USERS, "stopped in the middle of the job"
    print(f"\nreplicas: graceful stop after {left} of {GRACEFUL_USERS} writes")  # noqa: T201

    offer = _wait_text(cluster, checklist, "Remove the unused licenses")
    assert cluster.post(other, cluster.click_body(offer, SKIP)) == 200
    _wait_text(cluster, checklist, "— done")
    assert cluster.writes() - writes_before == GRACEFUL_USERS
    _assert_moved_once(cluster, "gs", GRACEFUL_USERS)


def _at_once(send: Any) -> None:
    start = threading.Barrier(2)
    answers: list[int] = []

    def one(n: int) -> None:
        start.wait()
        answers.append(send(n))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == [200, 200]


def _children(pid: int) -> list[int]:
    from bench.common import process_tree

    return [child for child in process_tree(pid) if child != pid]

"""Profiles (pyinstrument) of the paths behind the targets: `python -m bench --profile`.

pyinstrument is not a dependency of licensebot: `pip install pyinstrument` first. Without it the
benchmarks run as usual and this part says it was skipped.

* **Slack request**: what one `/license show` and one `/license replace` cost the server, end to end.
  The production app (`create_app`, `create_wsgi_app`) runs in this process with a listener pool
  that runs each listener at once in the calling thread, so the acknowledgement and the work after
  it are both on the profiled thread; the fake Slack Web API answers over loopback HTTP.
* **Bulk apply**: `Licensing.request_change` + `confirm` for N users through `GraphDirectory`
  against `graph-sim` in its own process with no added latency: the bot's own cost per batch.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ADMIN_EMAIL, BENCH_SECRET, Cohort, Log, bench_upn, no_log, prepare_bot_database

THRESHOLD = 0.03
"""Frames under this share of the total are left out of the summaries."""


@dataclass(frozen=True)
class Profile:
    title: str
    headline: str
    tree: str


def available() -> bool:
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        return False
    return True


def _summary(profiler: Any) -> str:
    text: str = profiler.output_text(
        unicode=False, color=False, show_all=False, processor_options={"filter_threshold": THRESHOLD}
    )
    lines = [line.rstrip() for line in text.splitlines()]
    # Drop pyinstrument's banner: keep the call tree.
    start = next((i for i, line in enumerate(lines) if line and line[0].isdigit()), 0)
    return "\n".join(line for line in lines[start:] if line.strip())


class _Inline(Executor):
    """Runs each listener at once in the calling thread: the ack and the work on one profiled stack.
    `seconds`: the time spent in listeners (ack() and the work after it)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        started = time.perf_counter()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the future, as a pool would
            future.set_exception(error)
        finally:
            self.seconds += time.perf_counter() - started
        return future


def _wsgi_post(app: Any, body: str, headers: dict[str, str]) -> str:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "0",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body.encode()),
        "CONTENT_LENGTH": str(len(body.encode())),
        "CONTENT_TYPE": headers["Content-Type"],
    }
    for name, value in headers.items():
        if name != "Content-Type":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    status: list[str] = []

    def start_response(line: str, _headers: Any, _exc: Any = None) -> None:
        status.append(line)

    b"".join(app(environ, start_response))
    return status[0] if status else "no answer"


def profile_slack_requests(
    count: int = 100,
    log: Log = no_log,
    *,
    kinds: tuple[str, ...] = ("show", "replace"),
    tenant_users: int = 0,
) -> list[Profile]:
    """`count` of each kind of command, one at a time; `tenant_users`: grow the tenant to that many
    users (the extra ones on Business Premium) to see what grows with it."""
    from pyinstrument import Profiler

    from bot.app import create_app
    from bot.bootstrap import bootstrap
    from bot.local_slack import LocalSlack, signed_headers
    from bot.settings import Settings
    from bot.web import create_wsgi_app

    profiles = []
    with tempfile.TemporaryDirectory(prefix="licensebot-bench-profile-") as tmp, LocalSlack() as slack:
        url = f"sqlite:///{Path(tmp) / 'profile.db'}"
        cohorts = [Cohort("prof", count + 10, "ENTERPRISEPACK")]
        if tenant_users > count + 10 + 25:
            cohorts.append(Cohort("fill", tenant_users - count - 10 - 25, "SPB"))
        prepare_bot_database(url, cohorts, {"ENTERPRISEPREMIUM": count})
        container = bootstrap(Settings(database_url=url))
        try:
            inline = _Inline()
            bolt = create_app(
                bot_token=slack.bot_token,
                signing_secret=BENCH_SECRET,
                services=container.services,
                base_url=slack.api_url,
                listener_executor=inline,
            )
            app = create_wsgi_app(bolt, lambda: True, signing_secret=BENCH_SECRET)
            admin = slack.add_user("lena", email=ADMIN_EMAIL)
            channel = slack.add_channel("licensing", members=[admin])

            def mention(index: int) -> str:
                upn = bench_upn(index, "prof")
                return f"<@{slack.add_user(upn.partition('@')[0], email=upn)}|{upn.partition('@')[0]}>"

            for kind in kinds:
                texts = [
                    f"show {mention(1 + i % 10)}" if kind == "show" else f"replace {mention(11 + i)} E5"
                    for i in range(count)
                ]
                bodies = [
                    slack.slash_command_body("/license", t, user_id=admin, channel_id=channel) for t in texts
                ]
                for body in bodies[:3]:  # warm-up: lazy imports, connections
                    _wsgi_post(app, body, signed_headers(body, BENCH_SECRET))
                log(f"profile: {len(bodies) - 3} × /license {kind}")
                measured = len(bodies) - 3
                profiler = Profiler(interval=0.0005)
                inline.seconds = 0.0
                profiler.start()
                started = time.perf_counter()
                for body in bodies[3:]:
                    _wsgi_post(app, body, signed_headers(body, BENCH_SECRET))
                elapsed = time.perf_counter() - started
                profiler.stop()
                per_request = elapsed / measured * 1000
                listener = inline.seconds / measured * 1000
                profiles.append(
                    Profile(
                        f"`/license {kind}`: acknowledgement and work, one request at a time"
                        + (f", tenant of {tenant_users:,} users" if tenant_users else ""),
                        f"{per_request:.1f} ms per request: {per_request - listener:.1f} ms in Bolt "
                        "before the listener (verify the signature, parse, middleware, dispatch) and "
                        f"{listener:.1f} ms in the listener (ack(), then the work and the reply); "
                        f"{measured} requests, SQLite, the fake Slack Web API answering in the same process",
                        _summary(profiler),
                    )
                )
        finally:
            container.engine.dispose()
    return profiles


def profile_bulk(users: int = 2000, log: Log = no_log) -> list[Profile]:
    from pyinstrument import Profiler

    from bench.bulk_reassign import Params, Quota, _template, run_licensebot

    with tempfile.TemporaryDirectory(prefix="licensebot-bench-profile-") as tmp:
        folder = Path(tmp)
        template = _template(folder, users)
        workdir = folder / "run"
        workdir.mkdir()
        copy = workdir / "tenant.db"
        copy.write_bytes(template.read_bytes())
        log(f"profile: bulk apply of {users:,} users, no added latency")
        profiler = Profiler(interval=0.005)
        quota = Quota(10**6, 150.0)
        outcome = run_licensebot(
            f"sqlite:///{copy}", workdir, 0.0, Params(users=users), quota, profiler=profiler
        )
    batches = max(1, users // 20)
    return [
        Profile(
            f"Bulk apply: {users:,} users through GraphDirectory, graph-sim in its own process, no latency",
            f"{outcome.seconds:.1f} s = {outcome.seconds / batches * 1000:.0f} ms per batch of 20 "
            f"({outcome.rate:.1f} users/s) with zero Graph latency",
            _summary(profiler),
        )
    ]


def profile_graph_sim_writes(users: int = 2000, batches: int = 10, log: Log = no_log) -> list[Profile]:
    """graph-sim's own work on a `$batch` of 20 `assignLicense` (no added latency), called directly."""
    import uuid

    from pyinstrument import Profiler

    from bench.bulk_reassign import E3, E5, _bulk_ids, _template
    from storage.graph_sim.api import GraphApi
    from storage.graph_sim.faults import FaultPlan, Faults
    from storage.graph_sim.messages import ApiRequest
    from storage.graph_sim.stats import StatsRecorder
    from storage.graph_sim.tenant import DatabaseTenant

    with tempfile.TemporaryDirectory(prefix="licensebot-bench-profile-") as tmp:
        template = _template(Path(tmp), users)
        tenant = DatabaseTenant(f"sqlite:///{template}", seed_demo=False)
        try:
            api = GraphApi(tenant, faults=Faults(FaultPlan()), stats=StatsRecorder())
            ids = _bulk_ids(users)
            body = {"addLicenses": [{"skuId": E5, "disabledPlans": []}], "removeLicenses": [E3]}
            requests = [
                ApiRequest(
                    method="POST",
                    path="/$batch",
                    query={},
                    body={
                        "requests": [
                            {
                                "id": str(n + 1),
                                "method": "POST",
                                "url": f"/users/{user_id}/assignLicense",
                                "body": body,
                                "headers": {"Content-Type": "application/json"},
                            }
                            for n, user_id in enumerate(ids[start : start + 20])
                        ]
                    },
                    base_url="http://127.0.0.1/v1.0",
                    app="bench",
                    request_id=str(uuid.uuid4()),
                )
                for start in range(0, 20 * batches, 20)
            ]
            log(f"profile: graph-sim, {batches} $batch of 20 assignLicense, tenant of {users:,} + 25 users")
            profiler = Profiler(interval=0.001)
            profiler.start()
            started = time.perf_counter()
            for request in requests:
                api.handle(request)
            elapsed = time.perf_counter() - started
            profiler.stop()
        finally:
            tenant.close()
    return [
        Profile(
            f"graph-sim: its own work on a `$batch` of 20 `assignLicense` ({users:,}-user tenant)",
            f"{elapsed / batches * 1000:.0f} ms per batch = {elapsed / batches / 20 * 1000:.1f} ms per "
            "write, before any configured latency",
            _summary(profiler),
        )
    ]


def run_profiles(names: set[str], bulk_users: int, footprint_users: int, log: Log = no_log) -> list[Profile]:
    if not available():
        log("profiles: pyinstrument is not installed (pip install pyinstrument): skipped")
        return []
    profiles: list[Profile] = []
    if "ack" in names:
        profiles += profile_slack_requests(log=log)
    if "footprint" in names and footprint_users:
        profiles += profile_slack_requests(log=log, kinds=("show",), tenant_users=footprint_users)
    if "bulk" in names:
        profiles += profile_bulk(bulk_users, log=log)
        profiles += profile_graph_sim_writes(bulk_users, log=log)
    return profiles

"""`licensebot serve`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP behind gunicorn.

Gunicorn (gthread workers) is the production server; each worker builds its own container after the
fork, so no database connection or thread pool crosses a process boundary.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication
from sqlalchemy import text

from bot.app import LISTENER_THREADS, create_app
from bot.bootstrap import Container, bootstrap
from bot.scheduler import SchedulerRefused, WorkflowScheduler, one_scheduler_lock, start_scheduler
from bot.settings import Settings
from bot.sign_in import SignInPoller
from bot.web import AcksFirst, AcksFirstExecutor, create_wsgi_app

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

__all__ = ["build_bolt_app", "database_ready", "run_http", "run_socket_mode"]

log = logging.getLogger(__name__)


def build_bolt_app(container: Container, acks: AcksFirst | None = None) -> Any:
    """The Bolt app of a serving process; with `acks`, its listeners' work lets the
    acknowledgements in flight go first (HTTP)."""
    settings = container.settings
    return create_app(
        bot_token=settings.slack_bot_token.get_secret_value(),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        services=container.services,
        base_url=settings.slack_api_url,
        listener_executor=None if acks is None else AcksFirstExecutor(acks, LISTENER_THREADS),
    )


def database_ready(container: Container) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with container.engine.connect() as conn:
                conn.execute(text("select 1"))
        except Exception:  # any driver error means "not ready"; the probe must answer, not raise
            log.warning("readiness check failed", exc_info=True)
            return False
        return True

    return ready


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, load: Callable[[], WSGIApplication], options: dict[str, Any]) -> None:
        self._load = load
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApplication:
        return self._load()


def run_http(settings: Settings, *, workers: int = 1, threads: int = 8, scheduler: bool = True) -> None:
    """Gunicorn: the master migrates (and seeds) once, then holds no database connection and no
    thread; each worker builds its own container after the fork and, unless `scheduler` is off,
    runs its own scheduler, which only triggers claiming (leases in the database keep replicas
    and workers from running the same work twice). A worker that exits stops its scheduler,
    which finishes its tick and releases the leases it held."""
    if settings.is_sqlite and workers > 1:
        raise SystemExit(
            "SQLite serves one process only; use DATABASE_URL=postgresql+psycopg://… for --workers > 1."
        )

    # Migrate (and seed an empty simulated tenant) once, in the master, before any worker forks.
    # Nothing of it stays open: a SQLite connection (or a thread holding one) must not cross a fork.
    master = bootstrap(settings)
    try:
        lock = one_scheduler_lock(master) if scheduler else None
        if lock is not None:
            lock.check()
    except SchedulerRefused as refused:
        raise SystemExit(str(refused)) from None
    finally:
        master.engine.dispose()
    containers: list[Container] = []
    running: list[WorkflowScheduler] = []
    pollers: list[SignInPoller] = []

    def load() -> WSGIApplication:
        # The app first, then the scheduler: its first tick resumes what a restart found
        # unfinished, in the background, while this worker already answers Slack.
        container = bootstrap(settings)
        containers.append(container)
        acks = AcksFirst()
        app = create_wsgi_app(
            build_bolt_app(container, acks),
            database_ready(container),
            acks,
            container.sign_in,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
        )
        if scheduler:
            try:
                running.append(start_scheduler(container))
            except SchedulerRefused as refused:
                log.error("%s This worker runs without a scheduler.", refused)
        if container.sign_in is not None and not container.sign_in.in_browser:
            pollers.append(SignInPoller(container.sign_in, settings.sign_in_poll_seconds).start())
        return app

    def worker_exit(_server: object, _worker: object) -> None:
        # Graceful: the change being applied stops after its batch; leases go back at once.
        for container in containers:
            container.subscriptions.ticks.stop()
        while running:
            running.pop().shutdown()
        while pollers:
            pollers.pop().stop()
        for container in containers:
            container.subscriptions.ticks.release_leases()
            _flush_updates(container)

    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 30,
        "accesslog": None,
        "worker_exit": worker_exit,
    }
    _Gunicorn(load, options).run()


def _flush_updates(container: Container) -> None:
    """Message updates still waiting for their second go out before the process ends."""
    if container.services.message_updates is not None:
        container.services.message_updates.flush()


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def run_socket_mode(settings: Settings, *, scheduler: bool = True) -> None:
    from bot.socket_mode import CheckedSocketModeHandler

    container = bootstrap(settings)
    app = build_bolt_app(container)
    # The app first, then the scheduler: its first tick resumes what a restart found unfinished,
    # in the background, while the handler connects and takes Slack's envelopes.
    try:
        running = start_scheduler(container) if scheduler else None
    except SchedulerRefused as refused:
        raise SystemExit(str(refused)) from None
    poller = (
        SignInPoller(container.sign_in, settings.sign_in_poll_seconds).start()
        if container.sign_in is not None
        else None
    )
    handler = CheckedSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    # `docker stop` sends SIGTERM (ignored by a PID 1 without a handler): stop like Ctrl-C does.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        handler.start()  # type: ignore[no-untyped-call]
    finally:
        container.subscriptions.ticks.stop()
        if running is not None:
            running.shutdown()
        if poller is not None:
            poller.stop()
        container.subscriptions.ticks.release_leases()
        _flush_updates(container)

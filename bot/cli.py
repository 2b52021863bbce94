"""The `licensebot` command line: serve, scheduler, check, workflows, shell, db, tenant, graph-sim."""

from __future__ import annotations

import argparse
import difflib
import json
import signal
import sys
import threading
from collections.abc import Sequence

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, OperationalError

from bot.bootstrap import bootstrap
from bot.clock import SystemClock
from bot.logs import configure_logging
from bot.scheduler import SchedulerRefused, start_scheduler
from bot.settings import ConfigurationError, Settings, TenantBackend
from domain.workflows import WorkflowStatus
from storage.catalog_file import ProductTableError
from storage.database import normalize_url
from storage.migrate import MIGRATIONS_DIR, SchemaNotReady

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="licensebot", description="Microsoft 365 licenses and subscriptions from Slack."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bot (Socket Mode or HTTP)")
    serve.add_argument("--workers", type=int, default=1, help="HTTP worker processes (PostgreSQL only)")
    serve.add_argument("--threads", type=int, default=8, help="threads per HTTP worker")
    serve.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not poll and remind in this process (run `licensebot scheduler` elsewhere)",
    )

    commands.add_parser(
        "scheduler", help="only poll pending subscriptions and send reminders, every POLL_INTERVAL_SECONDS"
    )

    commands.add_parser(
        "check",
        help="try the configuration for real (Slack, Microsoft Graph, the database) before going live",
    )

    workflows = commands.add_parser("workflows", help="print the subscription workflows, or one of them")
    workflows.add_argument("workflow", nargs="?", default="", help="a workflow id")
    workflows.add_argument(
        "--as",
        dest="as_user",
        default="lena@contoso.com",
        help="who asks (email of an admin of the tenant; default: the demo's License admin)",
    )

    shell = commands.add_parser("shell", help="a local chat console that drives the real bot")
    shell.add_argument("--demo", action="store_true", help="start on a fresh demo tenant")
    shell.add_argument(
        "--as",
        dest="as_user",
        default="lena@contoso.com",
        help="who you are (email; default: a License admin)",
    )

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="migrate to the newest schema (or REVISION)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db_commands.add_parser("downgrade", help="migrate back to REVISION (base = empty)")
    downgrade.add_argument("revision")
    db_commands.add_parser("current", help="print the current revision")

    tenant = commands.add_parser("tenant", help="the simulated tenant")
    tenant_commands = tenant.add_subparsers(dest="tenant_command", required=True, metavar="ACTION")
    tenant_commands.add_parser("reset", help="recreate the Contoso demo tenant")
    show = tenant_commands.add_parser("show", help="print a user's licenses as JSON")
    show.add_argument("user", help="email or user principal name")

    commands.add_parser(
        "graph-sim", help="serve the simulated tenant as a Microsoft Graph v1.0 subset", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["graph-sim"]:
        from storage.graph_sim.cli import main as graph_sim_main

        return graph_sim_main(args_list[1:])
    args = _parser().parse_args(args_list)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(_invalid_settings(exc), file=sys.stderr)
        return 2
    secrets = [
        s.get_secret_value()
        for s in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            settings.graph_client_secret,
            settings.graph_access_token,
        )
    ]
    configure_logging(settings.log_level, settings.log_format, secrets)
    handler = {
        "serve": _serve,
        "scheduler": _scheduler,
        "check": _check,
        "workflows": _workflows,
        "shell": _shell,
        "db": _db,
        "tenant": _tenant,
    }[args.command]
    problem = _database_url_problem(settings.database_url)
    if problem:
        print(f"licensebot: {problem}\n{_DATABASE_URL_FORMS}", file=sys.stderr)
        return 2
    try:
        return handler(args, settings)
    except (ConfigurationError, SchemaNotReady, ProductTableError) as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
    except OperationalError as exc:
        print(f"licensebot: {_unreachable(settings.database_url, exc)}", file=sys.stderr)
    except OSError as exc:
        if exc.filename is None:
            raise  # not a path of the configuration: a bug, with its traceback
        print(
            f"licensebot: cannot use {exc.filename}: {exc.strerror}.\nCheck the paths in the "
            "configuration (the SQLite file of DATABASE_URL, PRODUCT_TABLE_PATH, GRAPH_CERTIFICATE_PATH).",
            file=sys.stderr,
        )
    return 2


_DRIVERS = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}
"""The databases licensebot runs on, with the drivers it installs."""

_DATABASE_URL_FORMS = (
    "Set DATABASE_URL to sqlite:///licensebot.db (a file, for one process) or to "
    "postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE."
)


def _invalid_settings(error: ValidationError) -> str:
    """Which variable is wrong and why, by the name it has in the environment (not pydantic's report)."""
    lines = ["licensebot: the configuration is not valid:"]
    for problem in error.errors(include_url=False):
        name = "_".join(str(part) for part in problem["loc"]).upper() or "the settings"
        lines.append(f"  {name}: {problem['msg'].removeprefix('Value error, ')}")
    lines.append("Fix these environment variables (docs/configuration.md lists every one).")
    return "\n".join(lines)


def _database_url_problem(url: str) -> str:
    """What is wrong with DATABASE_URL before anything connects, or "" when it names a usable database."""
    try:
        parsed = normalize_url(url)
        backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    except ArgumentError as exc:  # unparseable, or a database SQLAlchemy does not know
        return f"DATABASE_URL is not a database URL licensebot can use ({exc})."
    if (backend, driver) not in _DRIVERS:
        return f"DATABASE_URL names {parsed.drivername}: licensebot runs on SQLite or PostgreSQL (psycopg 3)."
    return ""


def _unreachable(url: str, error: OperationalError) -> str:
    where = normalize_url(url).render_as_string(hide_password=True)
    reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    return (
        f"the database at {where} cannot be used: {reason}\n"
        "Check that the database server is running and reachable from here, and that DATABASE_URL "
        "names the right host, port, database, user and password."
    )


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.server import run_http, run_socket_mode

    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
        )
        if not value.get_secret_value()
    ]
    if missing:
        print(f"Set {' and '.join(missing)} first (see docs/setup.md, 'The Slack app').", file=sys.stderr)
        return 2
    if settings.slack_app_token.get_secret_value():
        run_socket_mode(settings, scheduler=not args.no_scheduler)
    else:
        run_http(settings, workers=args.workers, threads=args.threads, scheduler=not args.no_scheduler)
    return 0


def _scheduler(_args: argparse.Namespace, settings: Settings) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        scheduler = start_scheduler(bootstrap(settings))
    except SchedulerRefused as refused:
        print(refused, file=sys.stderr)
        return 2
    print(f"licensebot scheduler: polling every {settings.poll_interval_seconds:g} s; Ctrl-C stops it.")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown()
    return 0


def _check(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.check import Outcome, check, report

    findings = check(settings)
    print(report(findings))
    return 1 if any(f.outcome is Outcome.FAIL for f in findings) else 0


def _workflows(args: argparse.Namespace, settings: Settings) -> int:
    from domain.errors import DomainError

    container = bootstrap(settings)
    try:
        statuses = container.subscriptions.queries.status(args.as_user, args.workflow or None)
    except DomainError as refused:
        print(f"licensebot: {refused.problem} {refused.fix}".rstrip(), file=sys.stderr)
        return 1
    finally:
        container.engine.dispose()
    if not statuses:
        print("No subscription workflows yet.")
    for status in statuses:
        print(_workflow_text(status, detailed=bool(args.workflow)))
    return 0


def _workflow_text(status: WorkflowStatus, *, detailed: bool) -> str:
    workflow = status.workflow
    step = status.step
    where = ""
    if step is not None and not workflow.state.final:
        waiting = f" for {step.waiting_for.value}" if step.waiting_for else ""
        where = f" · {step.name.label}: {step.status.value}{waiting}"
    lines = [f"{workflow.id}  {workflow.summary} · {workflow.state.value}{where}"]
    if detailed:
        for each in workflow.steps:
            since = f" since {each.since:%Y-%m-%d %H:%M} UTC" if each.since else ""
            lines.append(f"  [{each.status.value:>8}] {each.name.label}{since}")
            if each.note:
                lines.append(f"             {each.note}")
        if status.choices:
            lines.append("  Choices: " + ", ".join(c.label for c in status.choices))
    return "\n".join(lines)


def _shell(args: argparse.Namespace, settings: Settings) -> int:
    from bot.shell import run_shell

    return run_shell(settings, demo=args.demo, as_user=args.as_user)


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    try:
        if args.db_command == "upgrade":
            migrate.upgrade(settings.database_url, args.revision)
            print(f"Database at revision {migrate.current_revision(settings.database_url)}.")
        elif args.db_command == "downgrade":
            migrate.downgrade(settings.database_url, args.revision)
            print(f"Database at revision {migrate.current_revision(settings.database_url) or 'base'}.")
        else:
            print(migrate.current_revision(settings.database_url) or "base (empty)")
    except CommandError as refused:  # Alembic's word for a revision it cannot go to
        current = migrate.current_revision(settings.database_url) or "base"
        print(
            f"licensebot: cannot {args.db_command} to {args.revision!r}: {refused}.\n"
            f"The database is at {current}. {_revisions_hint()}",
            file=sys.stderr,
        )
        return 2
    return 0


def _revisions_hint() -> str:
    revisions = [script.revision for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()]
    return (
        f"Revisions, oldest first: {', '.join(reversed(revisions))}; `head` is the newest and `base` "
        "the empty database. `licensebot db upgrade` goes to the newest."
    )


def _tenant(args: argparse.Namespace, settings: Settings) -> int:
    from storage.simulated.seed import reset_demo_tenant, show_user_json, user_keys, user_names

    if settings.tenant_backend is not TenantBackend.SIMULATED:
        print(
            "`licensebot tenant` works on the simulated tenant (TENANT_BACKEND=simulated).", file=sys.stderr
        )
        return 2
    container = bootstrap(settings)
    with container.sessions() as session:
        if args.tenant_command == "reset":
            reset_demo_tenant(session, SystemClock())
            session.commit()
            print("The Contoso demo tenant was recreated.")
            return 0
        keys = user_keys(session, args.user)
        found = next((shown for key in keys if (shown := show_user_json(session, key)) is not None), None)
        if found is None:
            print(_no_such_user(args.user, keys, user_names(session)), file=sys.stderr)
            return 1
        print(json.dumps(found, indent=2, sort_keys=True))
    return 0


def _no_such_user(typed: str, keys: Sequence[str], names: Sequence[str]) -> str:
    looked = f" (looked for {', '.join(keys[1:])})" if len(keys) > 1 else ""
    wanted = typed.strip().lstrip("@").partition("@")[0].casefold()
    by_name = {n.partition("@")[0].casefold(): n for n in names}
    close = [by_name[c] for c in difflib.get_close_matches(wanted, list(by_name), n=3, cutoff=0.75)]
    if close:
        fix = f"Did you mean {' or '.join(close)}?"
    elif names:
        fix = f"Type a user principal name or email of the tenant, e.g. `licensebot tenant show {names[0]}`."
    else:
        fix = "The simulated tenant has no users: `licensebot tenant reset` recreates the demo tenant."
    return f"licensebot: no user {typed!r} in the simulated tenant{looked}. {fix}"

"""The `licensebot` command line: serve, scheduler, workflows, shell, db, tenant, graph-sim."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence

from pydantic import ValidationError

from bot.bootstrap import bootstrap
from bot.clock import SystemClock
from bot.logs import configure_logging
from bot.scheduler import SchedulerRefused, start_scheduler
from bot.settings import ConfigurationError, Settings, TenantBackend
from domain.workflows import WorkflowStatus
from storage.catalog_file import ProductTableError
from storage.migrate import SchemaNotReady

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
        print(f"Configuration error:\n{exc}", file=sys.stderr)
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
        "workflows": _workflows,
        "shell": _shell,
        "db": _db,
        "tenant": _tenant,
    }[args.command]
    try:
        return handler(args, settings)
    except (ConfigurationError, SchemaNotReady, ProductTableError) as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 2


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
        print(f"Set {' and '.join(missing)} first (see the README, 'Slack app setup').", file=sys.stderr)
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


def _workflows(args: argparse.Namespace, settings: Settings) -> int:
    from domain.errors import DomainError

    container = bootstrap(settings)
    try:
        statuses = container.subscriptions.status(args.as_user, args.workflow or None)
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

    if args.db_command == "upgrade":
        migrate.upgrade(settings.database_url, args.revision)
        print(f"Database at revision {migrate.current_revision(settings.database_url)}.")
    elif args.db_command == "downgrade":
        migrate.downgrade(settings.database_url, args.revision)
        print(f"Database at revision {migrate.current_revision(settings.database_url) or 'base'}.")
    else:
        print(migrate.current_revision(settings.database_url) or "base (empty)")
    return 0


def _tenant(args: argparse.Namespace, settings: Settings) -> int:
    from storage.simulated.seed import reset_demo_tenant, show_user_json

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
        found = show_user_json(session, args.user)
        if found is None:
            print(f"No user {args.user!r} in the simulated tenant.", file=sys.stderr)
            return 1
        print(json.dumps(found, indent=2, sort_keys=True))
    return 0

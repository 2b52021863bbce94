"""`licensebot shell` from start to `:quit`: the tenant (a fresh demo one with `--demo`), the
console, and the lines it reads from the terminal or from standard input."""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.bootstrap import bootstrap
from bot.clock import MovableClock
from bot.settings import Settings, TenantBackend
from bot.shell.console import Console
from bot.shell.console_commands import HELP
from bot.sign_in import SignInPoller

__all__ = ["run_shell"]


def _demo_settings(settings: Settings) -> Settings:
    folder = Path(tempfile.mkdtemp(prefix="licensebot-demo-"))
    return settings.model_copy(
        update={
            "database_url": f"sqlite:///{folder / 'demo.db'}",
            "tenant_backend": TenantBackend.SIMULATED,
            # The demo's card purchases are active at once, not a minute later.
            "sim_activation_seconds": 0.0,
        }
    )


def run_shell(
    settings: Settings,
    *,
    demo: bool,
    as_user: str,
    lines: Iterable[str] | None = None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
    if demo:
        settings = _demo_settings(settings)
    container = bootstrap(settings, clock=MovableClock())
    interactive = lines is None and sys.stdin.isatty()
    console = Console(container, as_user, out, live=interactive and out.isatty())
    # ADMIN_BINDING=entra: device-code sign-ins complete while the shell runs.
    poller = (
        SignInPoller(container.sign_in, settings.sign_in_poll_seconds).start()
        if container.sign_in is not None
        else None
    )
    try:
        if interactive:
            print(f"licensebot shell: you are {as_user}. {HELP}", file=out)
        source = lines if lines is not None else _read(interactive)
        for line in source:
            if not interactive and line.strip():
                print(f"> {line.strip()}", file=out, flush=True)
            if not console.handle(line):
                break
    finally:
        if poller is not None:
            poller.stop()
        console.close()
        container.engine.dispose()
    return 0


def _read(interactive: bool) -> Iterable[str]:
    if not interactive:
        yield from sys.stdin
        return
    while True:
        try:
            yield input("you> ")
        except EOFError:
            print()
            return

"""The README's Configuration and Deployment sections and the Dockerfile stay true to the code.

There is no Docker engine where licensebot is developed, so the image is checked by construction:
what the Dockerfile copies, installs, runs and probes is compared with pyproject.toml, the CLI and
the HTTP surface. The README's variables, defaults and `licensebot` commands are compared with
`bot.settings.Settings` and the CLI's parser.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from datetime import time
from enum import Enum
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from pydantic import SecretStr
from slack_bolt import App

from bot.cli import _parser
from bot.settings import Settings
from bot.web import create_wsgi_app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
DOCKERIGNORE = (ROOT / ".dockerignore").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
WORD = re.compile(r"[a-z][a-z-]*")


def section(title: str) -> str:
    """A `## title` section of the README, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"the README has no '## {title}' section"
    return match.group(1)


def env_name(field: str) -> str:
    return field.upper()


def shown(value: object) -> str:
    """A default as the README writes it: `300` for 300.0, the value of an enum, `14,3` for a
    list of numbers, `` for none."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, tuple):
        return ",".join(shown(item) for item in value)
    return str(value)


# ---- Configuration ----------------------------------------------------------------------------


def configuration_rows() -> list[tuple[list[str], str]]:
    """(variable names, default cell) for each row of the Configuration table."""
    rows = []
    for line in section("Configuration").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append((re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0]), cells[1]))
    return rows


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = {name for names, _ in configuration_rows() for name in names}
    missing = sorted(env_name(f) for f in Settings.model_fields if env_name(f) not in documented)
    assert not missing, f"README, Configuration: add {missing} (bot/settings.py has them)"


def test_the_configuration_table_names_only_settings() -> None:
    known = {env_name(f) for f in Settings.model_fields}
    documented = {name for names, _ in configuration_rows() for name in names}
    assert documented <= known, f"README, Configuration: {sorted(documented - known)} are no settings"


def test_the_configuration_table_gives_every_default() -> None:
    for names, cell in configuration_rows():
        defaults = [shown(Settings.model_fields[n.lower()].default) for n in names]
        written = re.findall(r"`([^`]*)`", cell)
        if cell == "—" or not written:
            # No default, or one computed elsewhere ("the cloud's"): the setting itself is empty.
            assert defaults == [""] * len(names), f"README, Configuration: {names} default to {defaults}"
        else:
            assert written == defaults, f"README, Configuration: {names} default to {defaults}, not {written}"


def test_deployment_names_only_settings() -> None:
    known = {env_name(f) for f in Settings.model_fields}
    text = section("Deployment")
    named = {m.group(1) for m in re.finditer(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:=[^`]*)?`", text)}
    assert named, "the Deployment section names no variable"
    assert named <= known, f"README, Deployment: {sorted(named - known)} are no settings"


# ---- Deployment -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "needed",
    [
        "licensebot db upgrade",
        "--workers",
        "--no-scheduler",
        "licensebot scheduler",
        "LEASE_SECONDS",
        "POLL_INTERVAL_SECONDS",
        "/healthz",
        "/readyz",
        "SLACK_APP_TOKEN",
        "SQLite serves one process",
        "SKIP LOCKED",
        "work_leases",
        "idempotency_keys",
        "X-Slack-Retry-Num",
        "graceful_timeout",
        "docker build",
    ],
)
def test_the_deployment_section_covers(needed: str) -> None:
    assert needed in section("Deployment")


def test_the_quoted_refusals_are_the_codes() -> None:
    from bot import scheduler, server
    from storage import migrate

    text = " ".join(section("Deployment").split())
    sqlite_workers = re.search(r'SystemExit\(\s*"([^"]+)"', Path(server.__file__).read_text(encoding="utf-8"))
    assert sqlite_workers
    assert sqlite_workers.group(1) in text
    second_scheduler = scheduler.refusal("host-a:4711:abc123").replace("process 4711 on host-a", "")
    for part in second_scheduler.split("()"):
        assert " ".join(part.split()) in text
    assert migrate.UPGRADE_HINT in text
    assert "then start the bot again" in text


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def readme_commands() -> list[list[str]]:
    """Every `licensebot …` command line in the README, as tokens after `licensebot`: inline code
    that starts with it, commands in bash and YAML blocks (a `docker run … licensebot licensebot db
    upgrade` names the image first), and exec-form lists such as `["licensebot", "scheduler"]`."""
    found = [span.split()[1:] for span in INLINE_CODE.findall(README) if span.startswith("licensebot ")]
    found = [tokens for tokens in found if WORD.fullmatch(tokens[0])]  # not `licensebot …`
    for language, body in FENCE.findall(README):
        if language not in {"bash", "sh", "yaml"}:
            continue
        for line in body.splitlines():
            for match in re.finditer(r"(?:^|(?<=[\s;&|(]))licensebot((?:\s+[^\s\"',\]]+)+)", line):
                tokens = match.group(1).split()
                while tokens[:1] == ["licensebot"]:
                    tokens = tokens[1:]
                if tokens and WORD.fullmatch(tokens[0]):
                    found.append(tokens)
    for listed in re.findall(r'\[\s*"licensebot"(?:\s*,\s*"[^"]*")*\s*\]', README):
        found.append(json.loads(listed)[1:])
    return found


def words(tokens: list[str]) -> list[str]:
    """The subcommand words a command line starts with (`db upgrade` of `db upgrade [REV]`)."""
    leading: list[str] = []
    for token in tokens:
        if not WORD.fullmatch(token):
            break
        leading.append(token)
    return leading


def flags(tokens: list[str]) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", " ".join(tokens)))


def test_the_command_finder_finds_the_deployment_commands() -> None:
    found = {" ".join(words(tokens)[:2]) for tokens in readme_commands()}
    assert {"serve", "scheduler", "db upgrade", "tenant reset", "workflows"} <= found
    assert any(words(t)[:1] == ["serve"] and "--no-scheduler" in flags(t) for t in readme_commands())


def test_every_licensebot_command_in_the_readme_exists() -> None:
    top = subcommands(_parser())
    for tokens in readme_commands():
        said = words(tokens)
        name = said[0]
        assert name in top, f"README: `licensebot {' '.join(tokens)}`: no `{name}` in bot/cli.py"
        parser = top[name]
        nested = subcommands(parser)
        if nested:
            assert len(said) > 1, f"README: `licensebot {name}` needs one of {sorted(nested)}"
            assert said[1] in nested, f"README: `licensebot {name} {said[1]}`: not in bot/cli.py"
            parser = nested[said[1]]
        if name == "graph-sim":  # its options belong to storage.graph_sim.cli
            continue
        unknown = flags(tokens) - options(parser)
        assert not unknown, f"README: `licensebot {' '.join(tokens)}`: no {sorted(unknown)} in bot/cli.py"


# ---- Dockerfile -------------------------------------------------------------------------------


def instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", joined, re.MULTILINE)]


def exec_form(argument: str) -> list[str]:
    value = json.loads(argument)
    assert isinstance(value, list), f"{argument!r} is not the exec form"
    assert all(isinstance(v, str) for v in value)
    return value


def test_the_image_runs_the_licensebot_console_script() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    commands = [exec_form(a) for name in ("CMD", "ENTRYPOINT") for a in instructions(name)]
    assert commands, "the Dockerfile has no CMD or ENTRYPOINT"
    assert commands[-1] == ["licensebot", "serve"]
    for command in commands:
        assert command[0] in scripts, f"{command[0]} is not in [project.scripts]"
    module, _, function = scripts["licensebot"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert commands[-1][1] in subcommands(_parser())


def test_the_image_is_built_from_what_the_wheel_needs() -> None:
    froms = instructions("FROM")
    assert [f.split()[0] for f in froms] == ["python:3.11-slim", "python:3.11-slim"], "one base, two stages"
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    copied = {
        source.rstrip("/")
        for argument in instructions("COPY")
        if not argument.startswith("--from")
        for source in argument.split()[:-1]
    }
    packages = set(PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    assert packages | {"pyproject.toml", PYPROJECT["project"]["readme"]} == copied
    assert PYPROJECT["build-system"]["build-backend"] == "hatchling.build"
    run = " ".join(instructions("RUN"))
    assert "pip install ." in run, "the project, without the `dev` extra"
    assert "[dev]" not in DOCKERFILE
    dependencies = PYPROJECT["project"]["dependencies"]
    assert any(d.startswith("psycopg[binary]") for d in dependencies), (
        "psycopg[binary] brings libpq; without it the image needs libpq5 (apt-get)"
    )
    assert "apt-get" not in DOCKERFILE


def test_the_dockerignore_keeps_out_no_source() -> None:
    patterns = [p.strip() for p in DOCKERIGNORE.splitlines() if p.strip() and not p.startswith(("#", "!"))]
    for needed in (".venv", ".git", "**/__pycache__", "**/*.db", ".pytest_cache", ".hypothesis"):
        assert needed in patterns
    sources = ["pyproject.toml", "README.md"] + [
        str(p.relative_to(ROOT))
        for package in PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        for p in (ROOT / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]

    def ignored(path: str) -> bool:
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(
            fnmatch.fnmatch(prefix, pattern.replace("**/", "*/")) or fnmatch.fnmatch(prefix, pattern)
            for pattern in patterns
            for prefix in prefixes
        )

    assert not [s for s in sources if ignored(s)]


def test_the_image_runs_as_a_non_root_user_on_the_default_port() -> None:
    users = instructions("USER")
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert instructions("EXPOSE") == ["3000"]
    env = " ".join(instructions("ENV"))
    defaults = Settings.model_fields
    assert f"PORT={defaults['port'].default}" in env
    assert f"HOST={defaults['host'].default}" in env


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[int]:
    """The real WSGI app (`/healthz`, `/readyz`, `/slack/events`) on a free port."""
    ready: bool = request.param
    bolt = App(token="xoxb-test", signing_secret="secret", token_verification_enabled=False)
    server: WSGIServer = make_server(
        "127.0.0.1", 0, create_wsgi_app(bolt, lambda: ready, signing_secret="secret"), handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def healthcheck(port: int) -> int:
    """The Dockerfile's HEALTHCHECK command, as the engine runs it, with this interpreter."""
    options, _, command = instructions("HEALTHCHECK")[0].partition(" CMD ")
    assert "--timeout=" in options
    argv = exec_form(command.strip())
    assert argv[0] == "python"
    env = {**os.environ, "PORT": str(port), "http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": ""}
    return subprocess.run(
        [sys.executable, *argv[1:]], check=False, env=env, capture_output=True, timeout=30
    ).returncode


@pytest.mark.parametrize("served", [True, False], indirect=True)
def test_the_healthcheck_passes_on_healthz(served: int) -> None:
    assert "/healthz" in instructions("HEALTHCHECK")[0]
    # Liveness: /healthz answers whether or not the database does (that is /readyz).
    assert healthcheck(served) == 0


def test_the_healthcheck_fails_when_nothing_listens() -> None:
    with make_server("127.0.0.1", 0, lambda _env, _start: [], handler_class=_Quiet) as closed:
        port = closed.server_port
    assert healthcheck(port) != 0

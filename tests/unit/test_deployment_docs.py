"""docs/configuration.md, docs/deployment.md, docs/setup.md's permissions, the locks and the
Dockerfile stay true to the code.

There is no Docker engine where licensebot is developed, so the image is checked by construction:
what the Dockerfile copies, installs, runs and probes is compared with pyproject.toml, the locks in
requirements/, the CLI and the HTTP surface. The variables and defaults of docs/configuration.md are
compared with `bot.settings.Settings`, the `licensebot` commands of the README and every docs page
with the CLI's parser, and the Graph permissions of docs/setup.md with what `licensebot check` asks.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import importlib.util
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
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import SecretStr
from slack_bolt import App

from bot.check import GRAPH_PERMISSIONS
from bot.cli import _parser
from bot.settings import Settings
from bot.web import create_wsgi_app

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CONFIGURATION = (DOCS / "configuration.md").read_text(encoding="utf-8")
DEPLOYMENT = (DOCS / "deployment.md").read_text(encoding="utf-8")
SETUP = (DOCS / "setup.md").read_text(encoding="utf-8")
PAGES = {
    str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    if path.name != "benchmarks.md"  # written by `python3 dev.py bench`; its analysis weighs designs
}
"""The README and the docs pages: the `licensebot` commands they show must exist."""
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
DOCKERIGNORE = (ROOT / ".dockerignore").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
WORD = re.compile(r"[a-z][a-z-]*")


def section(page: str, title: str) -> str:
    """A `## title` section of a page, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", page, re.MULTILINE | re.DOTALL)
    assert match, f"the page has no '## {title}' section"
    return match.group(1)


def env_name(field: str) -> str:
    return field.upper()


def shown(value: object) -> str:
    """A default as docs/configuration.md writes it: `300` for 300.0, the value of an enum, `14,3` for a
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
    """(variable names, default cell) for each row of the tables of docs/configuration.md."""
    rows = []
    for line in CONFIGURATION.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append((re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0]), cells[1]))
    return rows


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = {name for names, _ in configuration_rows() for name in names}
    missing = sorted(env_name(f) for f in Settings.model_fields if env_name(f) not in documented)
    assert not missing, f"docs/configuration.md: add {missing} (bot/settings.py has them)"


def test_the_configuration_table_names_only_settings() -> None:
    known = {env_name(f) for f in Settings.model_fields}
    documented = {name for names, _ in configuration_rows() for name in names}
    assert documented <= known, f"docs/configuration.md: {sorted(documented - known)} are no settings"


def test_the_configuration_table_gives_every_default() -> None:
    for names, cell in configuration_rows():
        defaults = [shown(Settings.model_fields[n.lower()].default) for n in names]
        written = re.findall(r"`([^`]*)`", cell)
        if cell == "—" or not written:
            # No default, or one computed elsewhere ("the cloud's"): the setting itself is empty.
            assert defaults == [""] * len(names), f"docs/configuration.md: {names} default to {defaults}"
        else:
            assert written == defaults, f"docs/configuration.md: {names} default to {defaults}, not {written}"


def test_deployment_names_only_settings() -> None:
    known = {env_name(f) for f in Settings.model_fields}
    named = {m.group(1) for m in re.finditer(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:=[^`]*)?`", DEPLOYMENT)}
    assert named, "docs/deployment.md names no variable"
    assert named <= known, f"docs/deployment.md: {sorted(named - known)} are no settings"


def test_every_configuration_row_is_one_setting_once() -> None:
    names = [name for names, _ in configuration_rows() for name in names]
    assert len(names) == len(set(names)), "docs/configuration.md lists a variable twice"


# ---- Microsoft Graph permissions --------------------------------------------------------------


def permission_rows() -> list[str]:
    """The permissions of the tables in docs/setup.md's 'Microsoft Graph permissions', as written
    (`AuditLog.Read.All` alone in the table of optional ones)."""
    text = section(SETUP, "Microsoft Graph permissions")
    return [m.group(1) for m in re.finditer(r"^\| `([A-Za-z]+(?:\.[A-Za-z]+)+)` \|", text, re.MULTILINE)]


def test_the_required_graph_permissions_are_what_licensebot_check_asks_for() -> None:
    rows = permission_rows()
    assert len(rows) == len(set(rows))
    required = [row for row in rows if row != "AuditLog.Read.All"]
    assert required == list(GRAPH_PERMISSIONS), (
        f"docs/setup.md lists {required}, bot/check.py's GRAPH_PERMISSIONS {list(GRAPH_PERMISSIONS)}"
    )
    assert "AuditLog.Read.All" in rows, "the optional permission for inactive accounts"
    assert "AuditLog.Read.All" not in GRAPH_PERMISSIONS, "optional: reclaim works without it"


def test_the_readme_names_the_same_graph_permissions() -> None:
    text = section(PAGES["README.md"], "Microsoft Graph app registration and permissions")
    named = set(re.findall(r"`([A-Za-z]+(?:\.[A-Za-z]+)+)`", text))
    assert named == {*GRAPH_PERMISSIONS, "AuditLog.Read.All"}


def test_group_license_writes_and_group_reads_have_their_permissions() -> None:
    """Group-based licensing: the group's own license is written with the permission that writes
    users' licenses; groups and their members are read with GroupMember.Read.All."""
    text = section(SETUP, "Microsoft Graph permissions")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([\w.]+)` \| (.*) \|$", text, re.MULTILINE)}
    assert "POST /groups/{id}/assignLicense" in rows["LicenseAssignment.ReadWrite.All"]
    assert "POST /users/{id}/assignLicense" in rows["LicenseAssignment.ReadWrite.All"]
    for call in ("GET /groups", "/members/microsoft.graph.user", "/membersWithLicenseErrors"):
        assert call in rows["GroupMember.Read.All"]


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
def test_the_deployment_page_covers(needed: str) -> None:
    assert needed in DEPLOYMENT


def test_the_quoted_refusals_are_the_codes() -> None:
    from bot import scheduler, server
    from storage import migrate

    text = " ".join(DEPLOYMENT.split())
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


def documented_commands(text: str) -> list[list[str]]:
    """Every `licensebot …` command line of a page, as tokens after `licensebot`: inline code
    that starts with it, commands in bash and YAML blocks (a `docker run … licensebot licensebot db
    upgrade` names the image first), and exec-form lists such as `["licensebot", "scheduler"]`."""
    found = [span.split()[1:] for span in INLINE_CODE.findall(text) if span.startswith("licensebot ")]
    found = [tokens for tokens in found if WORD.fullmatch(tokens[0])]  # not `licensebot …`
    for language, body in FENCE.findall(text):
        if language not in {"bash", "sh", "yaml"}:
            continue
        for line in body.splitlines():
            for match in re.finditer(r"(?:^|(?<=[\s;&|(]))licensebot((?:\s+[^\s\"',\]]+)+)", line):
                tokens = match.group(1).split()
                while tokens[:1] == ["licensebot"]:
                    tokens = tokens[1:]
                if tokens and WORD.fullmatch(tokens[0]):
                    found.append(tokens)
    for listed in re.findall(r'\[\s*"licensebot"(?:\s*,\s*"[^"]*")*\s*\]', text):
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
    found = {" ".join(words(tokens)[:2]) for tokens in documented_commands(DEPLOYMENT)}
    assert {"serve", "scheduler", "db upgrade", "check"} <= found
    serve = [t for t in documented_commands(DEPLOYMENT) if words(t)[:1] == ["serve"]]
    assert any("--no-scheduler" in flags(t) for t in serve)
    usage = {" ".join(words(tokens)[:2]) for tokens in documented_commands(PAGES["docs/usage.md"])}
    assert {"serve", "shell", "tenant reset", "workflows", "graph-sim"} <= usage


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_licensebot_command_in_the_docs_exists(page: str) -> None:
    top = subcommands(_parser())
    for tokens in documented_commands(PAGES[page]):
        said = words(tokens)
        name = said[0]
        assert name in top, f"{page}: `licensebot {' '.join(tokens)}`: no `{name}` in bot/cli.py"
        parser = top[name]
        nested = subcommands(parser)
        if nested:
            assert len(said) > 1, f"{page}: `licensebot {name}` needs one of {sorted(nested)}"
            assert said[1] in nested, f"{page}: `licensebot {name} {said[1]}`: not in bot/cli.py"
            parser = nested[said[1]]
        if name == "graph-sim":  # its options belong to storage.graph_sim.cli
            continue
        unknown = flags(tokens) - options(parser)
        assert not unknown, f"{page}: `licensebot {' '.join(tokens)}`: no {sorted(unknown)} in bot/cli.py"


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
    assert packages | {"pyproject.toml", PYPROJECT["project"]["readme"], "requirements"} == copied
    assert PYPROJECT["build-system"]["build-backend"] == "hatchling.build"
    assert "[dev]" not in DOCKERFILE
    dependencies = PYPROJECT["project"]["dependencies"]
    assert any(d.startswith("psycopg[binary]") for d in dependencies), (
        "psycopg[binary] brings libpq; without it the image needs libpq5 (apt-get)"
    )
    assert "apt-get" not in DOCKERFILE


def test_the_image_installs_from_the_locks() -> None:
    """Every package of the image comes from the hashed locks; licensebot itself is built with the
    locked hatchling and installed without dependencies, so nothing unpinned comes in."""
    runs = [" ".join(run.split()) for run in instructions("RUN")]
    joined = " && ".join(runs)
    steps = [step.strip() for step in joined.split("&&")]
    pip_installs = [step for step in steps if " install " in step and "/pip " in step]
    assert pip_installs, "the Dockerfile installs nothing"
    for step in pip_installs:
        locked = "--require-hashes -r requirements/" in step
        own_wheel = "--no-deps" in step and "licensebot-*.whl" in step
        assert locked or own_wheel, f"unpinned install in the Dockerfile: {step}"
    assert any("--require-hashes -r requirements/runtime.txt" in step for step in pip_installs)
    assert any("--require-hashes -r requirements/build.txt" in step for step in pip_installs)
    assert any("pip wheel --no-deps --no-build-isolation" in step for step in steps)
    assert not any("--upgrade" in step for step in steps), "an upgrade takes whatever is newest"


# ---- the locks --------------------------------------------------------------------------------


def locked(name: str) -> dict[str, tuple[str, int]]:
    """A lock of requirements/: package → (version, number of hashes)."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "requirements" / name).read_text(encoding="utf-8"))
    pins: dict[str, tuple[str, int]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        assert not line.startswith("-"), f"requirements/{name}: an option in the lock: {line}"
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})*)", line)
        assert match, f"requirements/{name}: not a pin with hashes: {line}"
        pins[canonicalize_name(match.group(1))] = (match.group(2), match.group(3).count("--hash="))
    return pins


LOCKS = ("dev.txt", "runtime.txt", "build.txt")


@pytest.mark.parametrize("name", LOCKS)
def test_every_pin_of_a_lock_has_its_hashes(name: str) -> None:
    pins = locked(name)
    assert pins
    assert not [package for package, (_, hashes) in pins.items() if hashes == 0]


def test_the_locks_agree_and_pin_pyproject_within_its_ranges() -> None:
    dev, runtime, build = (locked(name) for name in LOCKS)
    for name, lock in (("runtime.txt", runtime), ("build.txt", build)):
        differ = {p: (v, dev[p][0]) for p, (v, _) in lock.items() if p in dev and dev[p][0] != v}
        assert not differ, f"requirements/{name} and dev.txt pin {differ}"
        assert lock.keys() <= dev.keys(), f"dev.txt lacks {sorted(lock.keys() - dev.keys())}"
    for wanted, lock in (
        (PYPROJECT["project"]["dependencies"], runtime),
        (PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"], dev),
        (PYPROJECT["build-system"]["requires"], build),
    ):
        for dependency in map(Requirement, wanted):
            name = canonicalize_name(dependency.name)
            assert name in lock, f"{dependency} is not in the lock"
            assert dependency.specifier.contains(lock[name][0]), f"the lock pins {name}=={lock[name][0]}"
    assert "hatchling" not in runtime, "the build backend stays out of the image"


def test_dev_py_installs_from_the_lock_and_reinstalls_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    assert spec
    assert spec.loader
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    assert dev.LOCK == ROOT / "requirements" / "dev.txt"
    source = (ROOT / "dev.py").read_text(encoding="utf-8")
    assert '"--require-hashes", "-r", str(LOCK)' in source
    assert '"--no-deps", "--no-build-isolation", "-e"' in source
    before = dev._fingerprint()
    changed = tmp_path / "dev.txt"
    changed.write_bytes(dev.LOCK.read_bytes() + b"# refreshed\n")
    monkeypatch.setattr(dev, "LOCK", changed)
    assert dev._fingerprint() != before, "a new lock must reinstall the environment"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 dev.py lint" in ci
    assert "python3 dev.py test" in ci


def test_the_dockerignore_keeps_out_no_source() -> None:
    patterns = [p.strip() for p in DOCKERIGNORE.splitlines() if p.strip() and not p.startswith(("#", "!"))]
    for needed in (".venv", ".git", "**/__pycache__", "**/*.db", ".pytest_cache", ".hypothesis"):
        assert needed in patterns
    sources = ["pyproject.toml", "README.md", *(f"requirements/{name}" for name in LOCKS)] + [
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

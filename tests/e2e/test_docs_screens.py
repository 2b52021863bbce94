"""The screens of the README and docs/usage.md stay what the shell prints.

The README's "Quickstart" and docs/usage.md's "What it looks like" show shell sessions (blocks that
start with `you>` or `── licensebot`). `SCRIPT` is the one session they come from, run here on a
fresh demo tenant; each block must appear in its output line for line, in order. Times, dates and
ids differ from run to run and are compared as placeholders; a line `⋮` in a block stands for lines
left out of the page.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.shell import run_shell

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
USAGE = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")

SCRIPT = (
    "/license replace @alice E5",
    "1",
    "/license show @alice",
    "/license",
    ":set product E5",
    ":set users @bob @nora",
    ":set what replace",
    ":set services -Sway, +Microsoft Teams",
    ":submit",
    ":set users @bob",
    ":submit",
    "1",
    ":add-users 60",
    ":as bill@contoso.com",
    "/subscription seats E5 +60",
    ":as lena@contoso.com",
    "/license replace @staff E5",
    "1",
    "/license services @carol E3",
    ":close",
    ":home",
    "/license reclaim inactive 90",
)

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
ELIDED = re.compile(r"^\s*⋮\s*$")
VOLATILE = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,32}\b"), "<id>"),
    (re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{2} [A-Z][a-z]{2}\b"), "<day>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"\b\d{2}:\d{2} UTC\b"), "<time> UTC"),
)


def section(page: str, title: str) -> str:
    """A `## title` section of a page, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", page, re.MULTILINE | re.DOTALL)
    assert match, f"the page has no '## {title}' section"
    return match.group(1)


def session_blocks(text: str) -> list[str]:
    """Fenced blocks that show a session, not commands to run."""
    return [
        body
        for language, body in FENCE.findall(text)
        if not language and body.lstrip().startswith(("you> ", "── licensebot"))
    ]


def screens() -> list[str]:
    """The shell screens of the README's Quickstart and of docs/usage.md's "What it looks like"."""
    quickstart = session_blocks(section(README, "Quickstart"))
    assert len(quickstart) == 1, "the README's Quickstart shows one screen"
    blocks = quickstart + session_blocks(section(USAGE, "What it looks like"))
    assert len(blocks) >= 5, "the README and docs/usage.md show the main screens"
    return blocks


def normalized(text: str) -> str:
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def pattern_of(screen: str) -> re.Pattern[str]:
    """A README screen as a pattern over the shell's output: `you> ` is the shell's `> ` echo of a
    scripted line, and `⋮` matches one or more lines."""
    parts: list[str] = []
    for line in normalized(screen).splitlines():
        if ELIDED.match(line):
            parts.append(r"(?:[^\n]*\n)+?")
        else:
            parts.append(re.escape(re.sub(r"^you> ", "> ", line)) + r"\n")
    return re.compile("^" + "".join(parts), re.MULTILINE)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('readme') / 'demo.db'}"
    out = io.StringIO()
    settings = Settings(database_url=url, sim_activation_seconds=0.0)
    assert run_shell(settings, demo=False, as_user="lena@contoso.com", lines=SCRIPT, out=out) == 0
    return normalized(out.getvalue()) + "\n"


@pytest.mark.parametrize("screen", screens(), ids=lambda s: s.strip().splitlines()[0][:40])
def test_each_screen_is_what_the_shell_prints(session: str, screen: str) -> None:
    assert pattern_of(screen).search(session), (
        f"the screen\n{screen}\nis not in the output of the scripted session:\n{session}"
    )


def test_the_screens_cover_the_main_surfaces() -> None:
    shown = "\n".join(screens())
    for surface in (
        "[form: License change]",
        "The form says:",
        "attached preview-",
        "── licensebot (updating) ── Replacing licenses: 20 of 60 done.",
        "attached result-",
        "[form: Services]",
        "*Workflows in flight*",
        "*Waiting on me*",
    ):
        assert surface in shown, f"docs/usage.md shows no {surface!r}"


def test_the_usage_page_names_the_script_its_screens_come_from() -> None:
    intro = section(USAGE, "What it looks like")
    assert "tests/e2e/test_docs_screens.py" in intro
    assert ":add-users 60" in intro


def test_an_elision_matches_only_lines_left_out() -> None:
    output = "> /license\nA\nB\nC\n"
    assert pattern_of("you> /license\n⋮\nC\n").search(output)
    assert not pattern_of("you> /license\n⋮\nD\n").search(output)
    assert not pattern_of("you> /license\nB\n").search(output), "lines are not skipped silently"

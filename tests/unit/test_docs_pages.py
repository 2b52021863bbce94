"""The README and the pages of docs/ hold together: the README stays short, every relative link
reaches a file (and a heading, when it names one), the pages for admins and operators carry no rule
numbers, and the files docs/development.md sends engineers to exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FOR_ADMINS_AND_OPERATORS = ["usage.md", "setup.md", "configuration.md", "deployment.md"]

FENCE_LINE = re.compile(r"^\s*```")
FENCE = re.compile(r"^\s*```.*?^\s*```[^\n]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *#*$", re.MULTILINE)
RULE_NUMBER = re.compile(r"\bR\d{1,2}\b")


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def prose(page: Path) -> str:
    """The page without its fenced blocks (a `# comment` in a bash block is no heading)."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(prose(page)):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_the_readme_is_at_most_200_lines() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move detail into docs/"


def test_the_readme_covers_what_the_brief_asks_and_links_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for title in (
        "Quickstart",
        "Configuration",
        "Slack app setup",
        "Microsoft Graph app registration and permissions",
        "Deployment",
        "Benchmarks",
        "Development",
    ):
        assert re.search(rf"^## {re.escape(title)}$", readme, re.MULTILINE), f"README: no '## {title}'"
    assert "python3 dev.py demo" in readme
    assert "python3 dev.py test" in readme
    linked = {target.split("#")[0] for target in LINK.findall(readme)}
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in linked, f"README.md does not link docs/{page.name}"


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_code_fences_are_closed(page: Path) -> None:
    fences = [line for line in page.read_text(encoding="utf-8").splitlines() if FENCE_LINE.match(line)]
    assert len(fences) % 2 == 0, f"{name(page)}: a ``` block is not closed"


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_relative_link_reaches_a_file_and_its_heading(page: Path) -> None:
    for target in LINK.findall(prose(page)):
        if re.match(r"[a-z][a-z+.-]*:", target):  # https:, mailto: …
            continue
        path, _, anchor = target.partition("#")
        reached = (page.parent / path).resolve() if path else page
        assert reached.exists(), f"{name(page)}: the link {target} reaches no file"
        assert reached.is_relative_to(ROOT), f"{name(page)}: the link {target} leaves the repository"
        if anchor and reached.suffix == ".md":
            assert anchor in anchors(reached), f"{name(page)}: {target}: no such heading in {name(reached)}"


def test_the_link_checker_finds_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\nSee [here](missing.md) and [there](#title).\n", encoding="utf-8")
    assert LINK.findall(prose(page)) == ["missing.md", "#title"]
    assert anchors(page) == {"title"}
    assert slug("Before going live: `licensebot check`") == "before-going-live-licensebot-check"
    assert slug("One process (SQLite)") == "one-process-sqlite"


@pytest.mark.parametrize("page", FOR_ADMINS_AND_OPERATORS)
def test_pages_for_admins_and_operators_use_their_words(page: str) -> None:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    found = sorted(set(RULE_NUMBER.findall(text)))
    assert not found, f"docs/{page} cites rule numbers {found}: say what the rule is instead"


def test_the_readme_cites_no_rule_numbers() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not RULE_NUMBER.findall(text)


def test_the_files_the_development_guide_names_exist() -> None:
    """A path in backticks (`storage/graph/directory.py`, `tests/slack/`) must exist: after code
    moves, the guide is updated with it."""
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    roots = ("bot/", "handlers/", "domain/", "storage/", "tests/", "bench/", "docs/", "requirements/", ".ci/")
    named = {span for span in re.findall(r"`([^`\s]+)`", text) if span.startswith(roots)}
    assert len(named) > 20, "the guide names the files a change goes to"
    missing = sorted(path for path in named if "<" not in path and not (ROOT / path).exists())
    assert not missing, f"docs/development.md names files that do not exist: {missing}"

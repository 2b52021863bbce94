"""The first slice with TENANT_BACKEND=graph: the same shell, Bolt app and listeners, talking to
Microsoft Graph — here the Graph-compatible simulator over real HTTP."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import Settings, TenantBackend
from bot.shell.session import run_shell
from storage.graph_sim import GraphSimulator

TOKEN = "test-token-for-graph-sim"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(tokens={TOKEN: "licensebot-test"}) as simulator:
        yield simulator


def _settings(tmp_path: Path, graph: GraphSimulator) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        tenant_backend=TenantBackend.GRAPH,
        graph_api_url=graph.url,
        graph_access_token=TOKEN,
    )


def _writes(graph: GraphSimulator) -> dict[str, int]:
    return dict(graph.stats().writes_applied)


def test_replace_through_graph_changes_the_tenant_once(tmp_path: Path, graph: GraphSimulator) -> None:
    out = io.StringIO()
    script = ["/license replace @alice E5", "1", "1", "/license show @alice"]

    run_shell(_settings(tmp_path, graph), demo=False, as_user="lena@contoso.com", lines=script, out=out)

    text = out.getvalue()
    # The result replaced the preview and its Confirm: its one button now is Undo, which only previews.
    assert "(you pressed Undo)" in text
    assert "Preview: undo a change" in text
    assert "Licenses replaced" in text
    shown = text.split("> /license show @alice")[1]
    assert "Office 365 E5" in shown
    assert "Office 365 E3" not in shown
    assert sum(_writes(graph).values()) == 1, "the second press of Confirm wrote nothing"


def test_graph_refusals_read_the_same_as_on_the_simulated_tenant(
    tmp_path: Path, graph: GraphSimulator
) -> None:
    out = io.StringIO()
    script = ["/license assign @nora E5", ":as dave@contoso.com", "/license remove @bob E3"]

    run_shell(_settings(tmp_path, graph), demo=False, as_user="lena@contoso.com", lines=script, out=out)

    text = out.getvalue()
    assert "Nora Lee has no usage location" in text
    assert "Rule R4" not in text
    assert "Dave Brown may not assign, replace or remove licenses" in text
    assert _writes(graph) == {}

"""`app_home_opened` → `views.publish`: the requester's App Home (DESIGN.md §3)."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt import App

from domain.commands import ShowHome
from handlers.blocks import app_home
from handlers.context import Services
from handlers.requests import Request, acknowledge_first

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    queries = services.licenses.queries

    def app_home_opened(request: Request) -> None:
        if request.event.get("tab", "home") != "home":
            return  # the Messages tab: nothing to publish
        requester = request.requester
        overview = queries.home(ShowHome(requester))
        sections = services.workflows(requester) if services.workflows is not None else None
        request.client.views_publish(
            user_id=request.user_id, view=app_home(overview, sections, datetime.now(UTC))
        )

    acknowledge_first(app.event("app_home_opened"), app_home_opened)

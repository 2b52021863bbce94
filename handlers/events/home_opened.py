"""`app_home_opened` → `views.publish`: the requester's App Home (DESIGN.md §3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from domain.commands import ShowHome
from handlers.admission import people
from handlers.blocks import app_home
from handlers.context import Services
from handlers.error_handler import acknowledge_first

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    licensing = services.licensing

    def app_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab: nothing to publish
        user_id = str(event["user"])
        requester = people(context).requester(user_id)
        overview = licensing.home(ShowHome(requester))
        sections = services.workflows(requester) if services.workflows is not None else None
        client.views_publish(user_id=user_id, view=app_home(overview, sections, datetime.now(UTC)))

    acknowledge_first(app.event("app_home_opened"), app_home_opened)

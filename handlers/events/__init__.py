"""Events API listeners: App Home."""

from slack_bolt import App

from handlers.context import Services
from handlers.events import home_opened

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    home_opened.register(app, services)

"""Slash command listeners."""

from slack_bolt import App

from handlers.commands import license as license_command
from handlers.commands import subscription as subscription_command
from handlers.context import Services
from handlers.metadata import FormSeal

__all__ = ["register"]


def register(app: App, services: Services, seal: FormSeal) -> None:
    license_command.register(app, services, seal)
    subscription_command.register(app, services)

"""Block action listeners: the buttons of a change, and the choices inside a form."""

from slack_bolt import App

from handlers.actions import changes, forms, renewals, workflows
from handlers.context import Services
from handlers.metadata import FormSeal

__all__ = ["register"]


def register(app: App, services: Services, seal: FormSeal) -> None:
    changes.register(app, services)
    forms.register(app, services, seal)
    workflows.register(app, services)
    renewals.register(app, services)

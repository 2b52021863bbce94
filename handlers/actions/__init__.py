"""Block action listeners: the buttons of a change, and the choices inside a form."""

from slack_bolt import App

from handlers.actions import change_buttons, product_choice, renewal_buttons, workflow_buttons
from handlers.context import Services
from handlers.metadata import FormSeal

__all__ = ["register"]


def register(app: App, services: Services, seal: FormSeal) -> None:
    change_buttons.register(app, services)
    product_choice.register(app, services, seal)
    workflow_buttons.register(app, services)
    renewal_buttons.register(app, services)

"""View submission listeners: the forms."""

from slack_bolt import App

from handlers.context import Services
from handlers.metadata import FormSeal
from handlers.views import form_submissions

__all__ = ["register"]


def register(app: App, services: Services, seal: FormSeal) -> None:
    form_submissions.register(app, services, seal)

"""Slack listeners, grouped by surface: payload → parsed command → service → Block Kit.

Each request passes the middleware first, in this order: its correlation id and delivery claim
(`requests`), the input checks (`inbound`), the admission of its Slack account (`admission`). A
listener is registered through `requests.acknowledge_first` and given one `requests.Request`; a
command or a set of buttons dispatches through a table (parsed kind or action id → handler).
"""

from slack_bolt import App

from handlers import actions, admission, commands, error_handler, events, inbound, requests, views
from handlers.context import HomeItem, Services, Timing, WorkflowProvider, WorkflowSections
from handlers.metadata import FormSeal

__all__ = ["HomeItem", "Services", "Timing", "WorkflowProvider", "WorkflowSections", "register"]


def register(app: App, services: Services, *, signing_secret: str) -> None:
    """Every listener of licensebot, the correlation, delivery and input middleware, the one error
    handler.

    Forms carry metadata sealed with a key derived from `signing_secret`.
    """
    seal = FormSeal(signing_secret)
    requests.register(app, services.licenses.deliveries)
    error_handler.register(app)
    inbound.register(app)
    admission.register(app, services)
    commands.register(app, services, seal)
    actions.register(app, services, seal)
    views.register(app, services, seal)
    events.register(app, services)

"""Choosing a product in the `/license` form: the form comes back with that product's services.

Answered with `views.update` and the hash of the view the choice was made in, so a form changed in
the meantime (another choice, quicker) is not overwritten with an older one. The users and mode keep
their block and action ids, so Slack keeps what the person entered there; the services get new
block ids (they name the product), so no tick carries over from another product.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from domain.commands import ListSubscriptions
from domain.errors import UnknownProduct
from handlers.blocks import license_form
from handlers.context import Services
from handlers.ids import FORM_PRODUCT
from handlers.metadata import FormSeal
from handlers.requests import Request, acknowledge_first

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(app: App, services: Services, seal: FormSeal) -> None:
    queries = services.licenses.queries

    def product_chosen(request: Request) -> None:
        view = request.body.get("view") or {}
        request.errors_in_form(str(view["id"]))
        metadata = str(view.get("private_metadata") or "")
        seal.open(metadata, user_id=request.user_id)
        products = queries.list_subscriptions(ListSubscriptions(request.requester)).products
        wanted = str((request.action.get("selected_option") or {}).get("value") or "")
        chosen = next((p for p in products if p.sku_id == wanted), None)
        if chosen is None:
            raise UnknownProduct(wanted, known=[p.display_name for p in products])
        try:
            request.client.views_update(
                view_id=view["id"],
                hash=view.get("hash"),
                view=license_form(products, metadata, chosen=chosen),
            )
        except SlackApiError as error:
            if error.response.get("error") != "hash_conflict":
                raise
            log.info(
                "the form changed before its update; the newer choice answers", extra={"action": FORM_PRODUCT}
            )

    acknowledge_first(app.action(FORM_PRODUCT), product_chosen)

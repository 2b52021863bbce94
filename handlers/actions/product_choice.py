"""Choosing a product in the `/license` form: the form comes back with that product's services.

Answered with `views.update` and the hash of the view the choice was made in, so a form changed in
the meantime (another choice, quicker) is not overwritten with an older one. The users and mode keep
their block and action ids, so Slack keeps what the person entered there; the services get new
block ids (they name the product), so no tick carries over from another product.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.commands import ListSubscriptions
from domain.errors import UnknownProduct
from handlers.admission import people
from handlers.blocks import license_form
from handlers.context import OPEN_VIEW, Services
from handlers.error_handler import acknowledge_first
from handlers.ids import FORM_PRODUCT
from handlers.metadata import FormSeal

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(app: App, services: Services, seal: FormSeal) -> None:
    licensing = services.licensing

    def product_chosen(
        body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        view = body.get("view") or {}
        user_id = str(body["user"]["id"])
        context[OPEN_VIEW] = str(view["id"])
        metadata = str(view.get("private_metadata") or "")
        seal.open(metadata, user_id=user_id)
        requester = people(context).requester(user_id)
        products = licensing.list_subscriptions(ListSubscriptions(requester)).products
        wanted = str((action.get("selected_option") or {}).get("value") or "")
        chosen = next((p for p in products if p.sku_id == wanted), None)
        if chosen is None:
            raise UnknownProduct(wanted, known=[p.display_name for p in products])
        try:
            client.views_update(
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

"""Block Kit builders: pure functions from domain results to messages and views (slack_sdk.models)."""

from handlers.blocks.changes import (
    change_applying,
    change_cancelled,
    change_preview,
    change_progress,
    change_result,
    change_status,
    preview_fits,
    result_fits,
)
from handlers.blocks.errors import cannot_post_here, domain_error, internal_error, not_pending, usage_error
from handlers.blocks.forms import license_form, loading_form, notice_view, services_form
from handlers.blocks.help import help_message
from handlers.blocks.home import app_home, home_notice
from handlers.blocks.message import Message
from handlers.blocks.subscriptions import subscription_list
from handlers.blocks.users import user_overview

__all__ = [
    "Message",
    "app_home",
    "cannot_post_here",
    "change_applying",
    "change_cancelled",
    "change_preview",
    "change_progress",
    "change_result",
    "change_status",
    "domain_error",
    "help_message",
    "home_notice",
    "internal_error",
    "license_form",
    "loading_form",
    "not_pending",
    "notice_view",
    "preview_fits",
    "result_fits",
    "services_form",
    "subscription_list",
    "usage_error",
    "user_overview",
]

"""Block Kit builders: pure functions from domain results to messages and views (slack_sdk.models)."""

from handlers.blocks.changes import (
    change_applying,
    change_cancelled,
    change_preview,
    change_progress,
    change_result,
    change_status,
    preview_fits,
    result_buttons,
    result_fits,
    result_note,
)
from handlers.blocks.groups import group_overview, group_processing, member_errors, which_group
from handlers.blocks.help import help_message
from handlers.blocks.home import app_home, home_notice
from handlers.blocks.message import Message
from handlers.blocks.modals import license_form, loading_form, notice_view, services_form
from handlers.blocks.refusals import cannot_post_here, domain_error, internal_error, not_pending, usage_error
from handlers.blocks.sign_in import sign_in_failed, signed_in, signed_out
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
    "group_overview",
    "group_processing",
    "help_message",
    "home_notice",
    "internal_error",
    "license_form",
    "loading_form",
    "member_errors",
    "not_pending",
    "notice_view",
    "preview_fits",
    "result_buttons",
    "result_fits",
    "result_note",
    "services_form",
    "sign_in_failed",
    "signed_in",
    "signed_out",
    "subscription_list",
    "usage_error",
    "user_overview",
    "which_group",
]

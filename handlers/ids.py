"""Slash commands, callback ids, action ids and block ids, shared by the builders and the listeners."""

from __future__ import annotations

__all__ = [
    "APPROVAL_ACTIONS_BLOCK",
    "APPROVE_CANCELLATION",
    "APPROVE_LOSING_ACCESS",
    "CANCEL_CHANGE",
    "CHANGE_ACTIONS_BLOCK",
    "CONFIRM_CHANGE",
    "FORM_MODE",
    "FORM_MODE_BLOCK",
    "FORM_PRODUCT",
    "FORM_PRODUCT_BLOCK",
    "FORM_SERVICES",
    "FORM_SERVICES_BLOCK",
    "FORM_USERS",
    "FORM_USERS_BLOCK",
    "LICENSE_COMMAND",
    "LICENSE_FORM",
    "PICK_GROUP",
    "REJECT_CANCELLATION",
    "RENEWAL_ACTIONS_BLOCK",
    "RENEWAL_NOT_NOW",
    "RENEWAL_REDUCE",
    "RESULT_ACTIONS_BLOCK",
    "RETRY_FAILED",
    "SERVICES_FORM",
    "SUBSCRIPTION_COMMAND",
    "TASK_ACTIONS_BLOCK",
    "TASK_DONE",
    "UNDO_CHANGE",
    "WORKFLOW_ACTIONS_BLOCK",
    "WORKFLOW_CHOICE",
    "WORKFLOW_CHOICE_PATTERN",
]

LICENSE_COMMAND = "/license"
SUBSCRIPTION_COMMAND = "/subscription"

CONFIRM_CHANGE = "change.confirm"
"""Confirm button of a change preview; its value is the change set id."""
CANCEL_CHANGE = "change.cancel"
"""Cancel button of a change preview; its value is the change set id."""
CHANGE_ACTIONS_BLOCK = "change.actions"
"""The actions block holding the Confirm and Cancel buttons."""

RETRY_FAILED = "change.retry"
"""'Retry the failed ones' on a change result; its value is the change set id."""
UNDO_CHANGE = "change.undo"
"""Undo on a change result; its value is the change set id."""
RESULT_ACTIONS_BLOCK = "change.result.actions"
PICK_GROUP = "group.pick"
"""One of several groups with the same name (R21): the button's value is the command to run again."""
"""The actions block holding Retry and Undo."""

LICENSE_FORM = "license.form"
"""Callback id of the `/license` form (users, product, add / replace / remove, services)."""
SERVICES_FORM = "license.services"
"""Callback id of the `/license services @user PRODUCT` form."""

FORM_USERS_BLOCK = "form.users"
FORM_USERS = "form.users.select"
FORM_PRODUCT_BLOCK = "form.product"
FORM_PRODUCT = "form.product.select"
"""The product select; choosing a product sends an action, answered with the product's services."""
FORM_MODE_BLOCK = "form.mode"
FORM_MODE = "form.mode.choice"
FORM_SERVICES_BLOCK = "form.services"
"""Prefix of the services blocks: `form.services:<sku id>:<n>` (Slack keeps at most 10 checkboxes per
block, and a new product gets new block ids, so Slack does not carry ticks over between products)."""
FORM_SERVICES = "form.services"
"""Prefix of the services checkboxes' action ids: `form.services.<n>`."""

WORKFLOW_CHOICE = "workflow.choice"
"""Prefix of a workflow step's choice buttons: `workflow.choice.<choice>` (unique in their block);
the value is `<workflow id>|<step>|<choice>`."""
WORKFLOW_CHOICE_PATTERN = r"^workflow\.choice\.[a-z-]+$"
WORKFLOW_ACTIONS_BLOCK = "workflow.actions"
"""The actions block holding a workflow's choice buttons."""
TASK_DONE = "workflow.task.done"
"""'Mark done' on an admin-center task; its value is the task id."""
TASK_ACTIONS_BLOCK = "workflow.task"
APPROVE_CANCELLATION = "approval.approve"
"""Approve on an approval request; its value is the approval id."""
APPROVE_LOSING_ACCESS = "approval.approve-loss"
"""'Approve (they lose access)': approve although users still hold licenses of the subscription."""
REJECT_CANCELLATION = "approval.reject"
APPROVAL_ACTIONS_BLOCK = "approval.actions"

RENEWAL_REDUCE = "renewal.reduce"
"""'Reduce to N at renewal' on a renewal alert (R22); its value is `renewal_value(...)`."""
RENEWAL_NOT_NOW = "renewal.not-now"
RENEWAL_ACTIONS_BLOCK = "renewal.actions"

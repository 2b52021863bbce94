"""Errors of the Graph adapter: HTTP-level failures, and the refusals Graph has that the domain's
rules do not name (each one still explains what is wrong and how to fix it)."""

from __future__ import annotations

from domain.errors import DomainError

__all__ = [
    "GraphAccessDenied",
    "GraphRefused",
    "GraphRequestError",
    "GraphSignInFailed",
    "MissingServiceDependency",
    "ProhibitedInUsageLocation",
]


class GraphRequestError(DomainError):
    """Graph answered a request with an error that retrying does not fix, and no rule explains."""

    def __init__(
        self, method: str, path: str, *, status: int, code: str, message: str, request_id: str = ""
    ) -> None:
        reference = f" with request id {request_id}" if request_id else ""
        super().__init__(
            f"Microsoft Graph answered {method} {path} with {status} {code}: {message}",
            f"Try again; if it persists, report it{reference}.",
        )
        self.status = status
        self.code = code
        self.graph_message = message
        self.request_id = request_id


class GraphSignInFailed(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The bot could not sign in to Microsoft 365 ({detail}); nothing was changed.",
            "Check GRAPH_TENANT_ID, GRAPH_CLIENT_ID and the client secret or certificate of the app "
            "registration, and that the app has admin consent.",
        )


class GraphAccessDenied(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Microsoft 365 refused the bot's access ({detail}); nothing was changed.",
            "Grant the app registration the application permissions LicenseAssignment.ReadWrite.All, "
            "Organization.Read.All and RoleManagement.Read.Directory (with admin consent).",
        )


class MissingServiceDependency(DomainError):
    rule = "R5"

    def __init__(self, user: str, detail: str) -> None:
        super().__init__(
            f"{user} cannot get this license as asked: a service in it depends on another service "
            f"that would be turned off or missing ({detail}).",
            "Keep the service it depends on turned on, or assign the product that provides it first.",
        )


class ProhibitedInUsageLocation(DomainError):
    rule = "R4"

    def __init__(self, user: str, usage_location: str | None) -> None:
        where = usage_location or "their usage location"
        super().__init__(
            f"{user} cannot get this license: it is not sold for use in {where}.",
            "Choose a product offered in that country, or correct the user's usage location in the "
            "admin center (Users > Active users > the user > Usage location).",
        )


class GraphRefused(DomainError):
    """Any other refusal of a write, with Graph's own words."""

    def __init__(self, user: str, code: str, message: str) -> None:
        super().__init__(
            f"Microsoft 365 refused the change for {user}: {message} ({code}).",
            "Fix what it names in the admin center, then run the command again.",
        )

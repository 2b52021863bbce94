"""Errors of the Graph adapter: HTTP-level failures, and Graph's refusals no domain error names (each
one still explains what is wrong and how to fix it). MissingServiceDependency and
ProhibitedInUsageLocation are domain errors now (a license state can report them too); they stay
importable from here."""

from __future__ import annotations

from domain.errors import DomainError, MissingServiceDependency, ProhibitedInUsageLocation

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
        self.detail = detail
        """The login endpoint's own reason (`invalid_client: AADSTS7000215: …`)."""
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
            "GroupMember.Read.All, Organization.Read.All, User.Read.All and "
            "RoleManagement.Read.Directory (with admin consent).",
        )


class GraphRefused(DomainError):
    """Any other refusal of a write, with Graph's own words."""

    def __init__(self, user: str, code: str, message: str) -> None:
        super().__init__(
            f"Microsoft 365 refused the change for {user}: {message} ({code}).",
            "Fix what it names in the admin center, then run the command again.",
        )

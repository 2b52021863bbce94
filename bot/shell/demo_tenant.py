"""What the local shell adds to the simulated tenant so that bulk changes can be tried: a Slack user
group of demo users, and `:add-users N` (people holding Office 365 E3, with the seats they use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from bot.bootstrap import Container
from bot.local_slack import LocalSlack
from bot.settings import TenantBackend
from bot.shell.people import LocalPeople
from storage.simulated import SimulatedDirectory
from storage.simulated.products import O365_E3
from storage.simulated.seed import user_names, user_row

__all__ = ["DEMO_USERGROUPS", "MAX_NEW_USERS", "STAFF_GROUP", "add_demo_usergroups", "add_staff"]

DEMO_USERGROUPS: Final[Mapping[str, tuple[str, ...]]] = {
    "sales-team": ("alice", "bob", "dave", "erin", "frank", "heidi"),
}
"""Slack user groups of the shell's workspace (handle → demo users), as `@sales-team` targets."""

STAFF_GROUP: Final = "staff"
"""The Slack user group of everyone `:add-users` added."""

MAX_NEW_USERS: Final = 1000


def add_demo_usergroups(slack: LocalSlack, people: LocalPeople) -> None:
    """The `DEMO_USERGROUPS` of the tenant's users in the local workspace."""
    for handle, names in DEMO_USERGROUPS.items():
        emails = [email for email in map(people.tenant_email, names) if email is not None]
        if emails:
            slack.add_usergroup(handle, [people.slack_user(email) for email in emails])


def add_staff(container: Container, count: int) -> list[tuple[str, str]]:
    """`count` new users of the simulated tenant holding Office 365 E3, and a new E3 subscription
    with a seat for each (so the tenant stays within its licenses); their (email, display name).

    Numbered on from those added before: staff01, staff02, … on the tenant's default domain.
    """
    if container.settings.tenant_backend is not TenantBackend.SIMULATED:
        raise ValueError(
            ":add-users adds people to the simulated tenant only; this shell works on Microsoft Graph "
            "(TENANT_BACKEND=graph), where people are added in the admin center."
        )
    if not 1 <= count <= MAX_NEW_USERS:
        raise ValueError(f"Add between 1 and {MAX_NEW_USERS:,} users: :add-users 60")
    domain = container.directory.organization().default_domain
    added: list[tuple[str, str]] = []
    with container.sessions() as session:
        taken = set(user_names(session))
        number = 0
        while len(added) < count:
            number += 1
            upn = f"staff{number:02}@{domain}"
            if upn in taken:
                continue
            name = f"Staff Member {number:02}"
            session.add(user_row(upn, name, (O365_E3,)))
            added.append((upn, name))
        SimulatedDirectory(session, container.clock).add_subscription(O365_E3, count)
        session.commit()
    return added

"""Admin-center pages per national cloud (R18): where a message sends an admin.

Where Microsoft's documents (reference/m365-docs) give a link for a cloud, it is that link; other
pages are addressed on the cloud's own admin center. Office 365 Germany, which the documents also
link, has been closed, so it has no entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.model import Cloud

__all__ = ["AdminCenter", "admin_center"]


@dataclass(frozen=True, slots=True)
class AdminCenter:
    cloud: Cloud
    subscriptions: str
    """Billing > Your products: Switch plans / Upgrade, cancel, add or remove licenses."""
    active_users: str
    licenses: str
    purchase: str
    """Billing > Purchase services."""
    support: str


_DOCUMENTED = {
    Cloud.WORLDWIDE: (
        "https://go.microsoft.com/fwlink/p/?linkid=842054",
        "https://go.microsoft.com/fwlink/p/?linkid=834822",
        "https://go.microsoft.com/fwlink/p/?linkid=842264",
    ),
    Cloud.CHINA: (
        "https://go.microsoft.com/fwlink/p/?linkid=850626",
        "https://go.microsoft.com/fwlink/p/?linkid=850628",
        "",
    ),
}


def admin_center(cloud: Cloud) -> AdminCenter:
    home = cloud.admin_center_url
    subscriptions, users, licenses = _DOCUMENTED.get(cloud, ("", "", ""))
    return AdminCenter(
        cloud=cloud,
        subscriptions=subscriptions or f"{home}/#/subscriptions",
        active_users=users or f"{home}/#/users",
        licenses=licenses or f"{home}/#/licenses",
        purchase=f"{home}/#/catalog",
        support=cloud.support_url,
    )

"""Finding the users, products and groups a request names, in the tenant directory.

Read with no unit of work open (DESIGN.md §5); shared by the license, group and waste use cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from domain.catalog import ProductCatalog
from domain.errors import NothingToChange, OutsideOrganization, UnknownUser
from domain.group_licensing import AmbiguousGroup, UnknownGroup
from domain.model import Group, User
from domain.ports import TenantDirectory

__all__ = ["HOLDERS_PREFIX", "TenantLookups"]

HOLDERS_PREFIX = "has:"
"""A target `has:E3` means everyone who holds the product."""


class TenantLookups:
    """Users by address or `has:PRODUCT`, groups by name, and the names of licensing groups."""

    def __init__(self, directory: TenantDirectory, catalog: ProductCatalog) -> None:
        self._directory = directory
        self._catalog = catalog

    def user(self, key: str) -> User:
        user = self._directory.user(key)
        if user is not None:
            return user
        if "@" in key:
            org = self._directory.organization()
            if not org.owns_address(key):  # R8: another organization's user, not a typo of ours
                raise OutsideOrganization(key, sorted(org.verified_domains))
        raise UnknownUser(key)

    def users(self, keys: Sequence[str]) -> list[User]:
        seen: dict[str, User] = {}
        for key in keys:
            if key.casefold().startswith(HOLDERS_PREFIX):
                product = self._catalog.resolve(key[len(HOLDERS_PREFIX) :], self._directory.products())
                holders = self._directory.users_with_product(product.sku_id)
                if not holders:
                    raise NothingToChange(
                        f"Nobody holds {product.display_name}, so `{key}` selects no users.",
                        "Name the users instead, or check the product with `/subscription list`.",
                    )
                for holder in holders:
                    seen.setdefault(holder.id, holder)
                continue
            user = self.user(key)
            seen.setdefault(user.id, user)
        if not seen:
            raise UnknownUser("(nobody)")
        return list(seen.values())

    def group(self, key: str) -> Group:
        """One group by display name, mail nickname or object id (R21); several answering to the
        name is `AmbiguousGroup`, for the admin to pick one."""
        found = self._directory.find_groups(key)
        exact = [g for g in found if g.id.casefold() == key.strip().casefold()]
        if exact:
            return exact[0]
        if not found:
            raise UnknownGroup(key)
        if len(found) > 1:
            raise AmbiguousGroup(key, found)
        return found[0]

    def group_names(self, users: Iterable[User]) -> dict[str, str]:
        """The names of the groups these users get licenses from (R21), read in one go."""
        wanted = sorted({state.group_id for user in users for state in user.states if state.group_id})
        if not wanted:
            return {}
        found = self._directory.groups_by_id(wanted)
        return {group_id: group.display_name for group_id, group in found.items() if group is not None}

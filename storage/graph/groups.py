"""A tenant's Microsoft Entra groups and their licenses over Graph (R21): lookups, members, and the
group license write (`POST /groups/{id}/assignLicense`, processed by Microsoft 365 afterwards)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from domain.changes import UserChange
from domain.errors import DirectoryUnavailable
from domain.group_licensing import UnknownGroup
from domain.model import Group, LicenseAssignment, Product, User
from storage.graph.client import MAX_BATCH, GraphClient, GraphRequest
from storage.graph.mapping import (
    GROUP_SELECT,
    LICENSED_GROUPS_FILTER,
    USER_SELECT,
    assign_group_license_body,
    parse_group,
    parse_user,
)
from storage.graph.odata import EVENTUAL, LARGEST_PAGE, is_guid, relative_url, string_literal
from storage.graph.refusals import LazyProducts, graph_refusal

__all__ = ["GraphGroups"]


class GraphGroups:
    """The groups of `GraphDirectory` (R21); `products` reads the tenant's products, for a refusal."""

    def __init__(self, client: GraphClient, products: Callable[[], list[Product]]) -> None:
        self._client = client
        self._products = products

    def find(self, key: str) -> list[Group]:
        """By object id, else by display name or mail nickname (`$filter ... eq`, exact)."""
        key = key.strip()
        if not key:
            return []
        if is_guid(key):
            found = self.by_id([key]).get(key.lower())
            if found is not None:
                return [found]
        literal = string_literal(key)
        url = relative_url(
            "/groups",
            {
                "$filter": f"displayName eq {literal} or mailNickname eq {literal}",
                "$select": GROUP_SELECT,
                "$top": LARGEST_PAGE,
            },
        )
        return [parse_group(item) for item in self._client.get_all(url)]

    def by_id(self, group_ids: Sequence[str]) -> dict[str, Group | None]:
        """Read in `$batch`es of 20; a group that is gone (or not a GUID) is None."""
        wanted = list(dict.fromkeys(gid.lower() for gid in group_ids))
        found: dict[str, Group | None] = dict.fromkeys(wanted)
        ids = [gid for gid in wanted if is_guid(gid)]
        for start in range(0, len(ids), MAX_BATCH):
            chunk = ids[start : start + MAX_BATCH]
            requests = [
                GraphRequest("GET", relative_url(f"/groups/{gid}", {"$select": GROUP_SELECT}))
                for gid in chunk
            ]
            for gid, response in zip(chunk, self._client.batch(requests), strict=True):
                if response.ok and isinstance(response.body, Mapping):
                    found[gid] = parse_group(response.body)
                elif response.status != 404:
                    raise DirectoryUnavailable(
                        response.error_message or f"reading a group got {response.status}"
                    )
        return found

    def licensed(self) -> list[Group]:
        """Groups with licenses, filtered by Graph (`assignedLicenses/$count ne 0` is an advanced
        query: `ConsistencyLevel: eventual` and `$count=true`), each with its user members counted."""
        url = relative_url(
            "/groups",
            {
                "$filter": LICENSED_GROUPS_FILTER,
                "$count": "true",
                "$select": GROUP_SELECT,
                "$top": LARGEST_PAGE,
            },
        )
        licensed = [
            group for group in map(parse_group, self._client.get_all(url, EVENTUAL)) if group.licenses
        ]
        counted: list[Group] = []
        for group in licensed:
            members = relative_url(
                f"/groups/{group.id}/members/microsoft.graph.user", {"$select": "id", "$top": LARGEST_PAGE}
            )
            counted.append(replace(group, member_count=sum(1 for _ in self._client.get_all(members))))
        return counted

    def members(self, group_id: str) -> list[User]:
        """The group's users (the cast leaves nested groups, devices and contacts out)."""
        return self._group_users(group_id, "members/microsoft.graph.user")

    def members_with_errors(self, group_id: str) -> list[User]:
        return self._group_users(group_id, "membersWithLicenseErrors")

    def _group_users(self, group_id: str, relation: str) -> list[User]:
        if not is_guid(group_id):
            return []
        url = relative_url(
            f"/groups/{group_id.lower()}/{relation}", {"$select": USER_SELECT, "$top": LARGEST_PAGE}
        )
        return [
            parse_user(item)
            for item in self._client.get_all(url)
            if item.get("@odata.type", "#microsoft.graph.user") == "#microsoft.graph.user"
        ]

    def assign_license(self, group_id: str, add: Sequence[LicenseAssignment], remove: Sequence[str]) -> Group:
        """One `POST /groups/{id}/assignLicense` (202 Accepted: the members are processed later).
        A write whose answer is lost is not sent again blindly: the group is read back instead."""
        response = self._client.post(
            f"/groups/{group_id.lower()}/assignLicense", assign_group_license_body(add, remove)
        )
        if response.ok:
            return self.by_id([group_id])[group_id.lower()] or parse_group(response.body or {})
        if response.outcome_unknown:
            group = self.by_id([group_id])[group_id.lower()]
            wanted = {lic.sku_id for lic in add}
            if (
                group is not None
                and wanted <= {lic.sku_id for lic in group.licenses}
                and not (set(remove) & {lic.sku_id for lic in group.licenses})
            ):
                return group
            raise DirectoryUnavailable("Graph did not answer the group's license write")
        if response.status == 404:
            raise UnknownGroup(group_id)
        found = self.by_id([group_id]).get(group_id.lower())
        name = f"The group {found.display_name}" if found is not None else "The group"
        change = UserChange(group_id, f"group:{group_id}", name, (), tuple(add))
        raise graph_refusal(change, response, LazyProducts(self._products), None)

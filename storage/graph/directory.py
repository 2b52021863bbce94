"""The tenant directory port over Microsoft Graph v1.0 (DESIGN.md §6).

Writes go as `POST /users/{id}/assignLicense` inside `$batch` (20 per batch, paced under the write
quota, R17). Before writing, each user's licenses are read (in `$batch` too), so the port's contract
holds against a live tenant: a user already in the `after` state is not written again, a user in
neither state is left alone. A write whose answer is lost, throttled or a server error is never
sent again blindly: the user is read back and the change classified by what the read shows.
Graph's refusals come back as the same domain errors, with the same words, as the simulated tenant's.
Graph may also take a write and hold the license in an error state (`licenseAssignmentStates`):
the written users are read back, and a product they got in an error state is that refusal.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Final

from domain.catalog import ProductCatalog
from domain.changes import ChangeOutcome, OutcomeKind, UserChange
from domain.errors import (
    AmbiguousUser,
    ChangeConflict,
    DirectoryUnavailable,
    DomainError,
    SignInActivityUnavailable,
    UnknownUser,
)
from domain.model import AdminRole, Cloud, Group, LicenseAssignment, Organization, Product, Subscription, User
from domain.ports import SIGN_INS_PAGE, USERS_PAGE, UserQuery
from storage.graph.client import MAX_BATCH, GraphClient, GraphRequest
from storage.graph.errors import (
    GraphAccessDenied,
    GraphRequestError,
)
from storage.graph.groups import GraphGroups
from storage.graph.mapping import (
    ORGANIZATION_SELECT,
    SIGN_INS_SELECT,
    USER_SELECT,
    assign_license_body,
    parse_organization,
    parse_product,
    parse_role,
    parse_subscription,
    parse_user,
)
from storage.graph.odata import EVENTUAL, LARGEST_PAGE, is_guid, relative_url, string_literal, user_path
from storage.graph.refusals import LazyProducts, failed_with, graph_refusal, state_failure

__all__ = ["GraphDirectory"]

log = logging.getLogger(__name__)

_GUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class GraphDirectory:
    """`domain.ports.TenantDirectory` for a real tenant through Microsoft Graph."""

    def __init__(
        self,
        client: GraphClient,
        *,
        catalog: ProductCatalog | None = None,
        cloud: Cloud | None = None,
        batch_size: int = MAX_BATCH,
        read_first: bool = True,
    ) -> None:
        """`read_first=False` trusts each change's `before` unless `apply(verify=True)`: one `$batch`
        of reads fewer per 20 users, but a user changed since the plan is then overwritten."""
        self._client = client
        self._read_first = read_first
        self._catalog = catalog or ProductCatalog()
        self._cloud = cloud or client.config.cloud
        self._batch_size = max(1, min(batch_size, MAX_BATCH, client.pacer.max_batch))
        self._organization_id: str | None = None
        self._groups = GraphGroups(client, self.products)

    # Reads

    def organization(self) -> Organization:
        page = self._client.get(relative_url("/organization", {"$select": ORGANIZATION_SELECT}))
        items = page.get("value") if isinstance(page, Mapping) else None
        if not items:
            raise GraphRequestError(
                "GET", "/organization", status=200, code="NoOrganization", message="no organization listed"
            )
        organization = parse_organization(items[0], self._cloud)
        self._organization_id = organization.id
        return organization

    def products(self) -> list[Product]:
        return [parse_product(item, self._catalog) for item in self._client.get_all("/subscribedSkus")]

    def subscriptions(self) -> list[Subscription]:
        """The tenant's own subscriptions: Graph lists no other organization's (R8)."""
        if self._organization_id is None:
            self.organization()
        owner = self._organization_id or ""
        return [
            replace(parse_subscription(item), organization_id=owner)
            for item in self._client.get_all("/directory/subscriptions")
        ]

    def user(self, key: str) -> User | None:
        """By object id or user principal name; an address that is no UPN is looked up as `mail`."""
        key = key.strip()
        if not key or not (is_guid(key) or "@" in key):
            return None
        try:
            found = self._client.get(relative_url(user_path(key), {"$select": USER_SELECT}))
        except GraphRequestError as error:
            if error.status not in {400, 404}:
                raise
        else:
            return parse_user(found)
        if "@" not in key:
            return None
        url = relative_url(
            "/users",
            {"$filter": f"mail eq {string_literal(key)}", "$select": USER_SELECT, "$top": LARGEST_PAGE},
        )
        matches = [parse_user(item) for item in self._client.get_all(url)]
        if len(matches) > 1:
            raise AmbiguousUser(key, sorted(user.user_principal_name for user in matches))
        return matches[0] if matches else None

    def users_with_product(self, sku_id: str) -> list[User]:
        if not is_guid(sku_id):
            # Only a GUID goes into a $filter: anything else could change the query.
            return []
        url = relative_url(
            "/users",
            {
                "$filter": f"assignedLicenses/any(x:x/skuId eq {sku_id.lower()})",
                "$select": USER_SELECT,
                "$top": LARGEST_PAGE,
            },
        )
        return [parse_user(item) for item in self._client.get_all(url)]

    def users_by_id(self, user_ids: Sequence[str]) -> dict[str, User | None]:
        """Read in `$batch`es of 20 GETs (reads cost no write quota)."""
        return self._read_users(user_ids)

    def user_pages(self, query: UserQuery) -> Iterator[list[User]]:
        """`GET /users` page by page over `@odata.nextLink` (999 a page, 120 with `signInActivity`).

        One `$filter` at most, of the simple kind every tenant serves: `accountEnabled`, else the
        product held; the rest of the query is applied to each page as it arrives."""
        params = {
            "$select": SIGN_INS_SELECT if query.sign_ins else USER_SELECT,
            "$top": str(SIGN_INS_PAGE if query.sign_ins else USERS_PAGE),
        }
        sku = query.sku_id.lower() if query.sku_id else None
        if query.enabled is not None:
            params["$filter"] = f"accountEnabled eq {'true' if query.enabled else 'false'}"
        elif sku is not None:
            if not is_guid(sku):
                return  # only a GUID goes into a $filter: anything else could change the query
            params["$filter"] = f"assignedLicenses/any(x:x/skuId eq {sku})"
        pages = self._client.get_pages(relative_url("/users", params))
        while True:
            try:
                items = next(pages, None)
            except GraphAccessDenied as denied:
                if not query.sign_ins:
                    raise
                raise SignInActivityUnavailable(_sign_ins_refused(str(denied))) from denied
            if items is None:
                return
            users = [
                parse_user(item)
                for item in items
                if not (query.sign_ins and str(item.get("userType") or "Member") == "Guest")
            ]
            page = [
                user
                for user in users
                if (query.enabled is None or user.account_enabled is query.enabled)
                and (sku is None or user.holds(sku))
                and (not query.licensed or user.licenses)
            ]
            if page:
                yield page

    def admin_roles(self, user_id: str) -> frozenset[AdminRole]:
        """Roles held directly or through groups. The cast to directoryRole is an advanced query
        (`ConsistencyLevel: eventual` and `$count`); reading roleTemplateId needs the app to be
        allowed to read directory roles (RoleManagement.Read.Directory)."""
        url = relative_url(
            f"{user_path(user_id)}/transitiveMemberOf/microsoft.graph.directoryRole",
            {"$select": "id,displayName,roleTemplateId", "$count": "true"},
        )
        try:
            roles = {parse_role(item) for item in self._client.get_all(url, EVENTUAL)}
        except GraphRequestError as error:
            if error.status == 404:
                return frozenset()
            raise
        return frozenset(role for role in roles if role is not None)

    # Groups (R21)

    def find_groups(self, key: str) -> list[Group]:
        """By object id, else by display name or mail nickname (`$filter ... eq`, exact)."""
        return self._groups.find(key)

    def groups_by_id(self, group_ids: Sequence[str]) -> dict[str, Group | None]:
        return self._groups.by_id(group_ids)

    def licensed_groups(self) -> list[Group]:
        return self._groups.licensed()

    def group_members(self, group_id: str) -> list[User]:
        return self._groups.members(group_id)

    def members_with_license_errors(self, group_id: str) -> list[User]:
        return self._groups.members_with_errors(group_id)

    def assign_group_license(
        self, group_id: str, add: Sequence[LicenseAssignment], remove: Sequence[str]
    ) -> Group:
        return self._groups.assign_license(group_id, add, remove)

    # Writes

    def apply(self, changes: Sequence[UserChange], *, verify: bool = False) -> list[ChangeOutcome]:
        """Write each change once; see `TenantDirectory.apply`.

        By default each user is read right before the write, whatever `verify` says: a live tenant
        changes under the bot (other admins, group licensing), and 20 reads in one `$batch` cost
        no write quota.
        """
        outcomes: dict[int, ChangeOutcome] = {}
        products = LazyProducts(self.products)
        read_first = verify or self._read_first
        for start in range(0, len(changes), self._batch_size):
            chunk = list(range(start, min(start + self._batch_size, len(changes))))
            self._apply_chunk(changes, chunk, outcomes, products, read_first=read_first)
        return [outcomes[i] for i in range(len(changes))]

    def _apply_chunk(
        self,
        changes: Sequence[UserChange],
        chunk: list[int],
        outcomes: dict[int, ChangeOutcome],
        products: LazyProducts,
        *,
        read_first: bool,
    ) -> None:
        seen: dict[str, User] = {}
        if read_first:
            todo = self._still_to_write(changes, chunk, outcomes, seen, products, written=False)
        else:
            todo = []
            for i in chunk:
                if changes[i].is_noop:
                    outcomes[i] = ChangeOutcome(changes[i].user_id, OutcomeKind.ALREADY_APPLIED)
                else:
                    todo.append(i)
        written = self._write(changes, todo, outcomes, seen, products, read_first=read_first)
        if written:
            self._check_states(changes, written, outcomes, products)

    def _write(
        self,
        changes: Sequence[UserChange],
        todo: list[int],
        outcomes: dict[int, ChangeOutcome],
        seen: dict[str, User],
        products: LazyProducts,
        *,
        read_first: bool,
    ) -> list[int]:
        """Send the writes of a chunk until each has a sure outcome; returns those Graph took."""
        written: list[int] = []
        attempt = 0
        while todo:
            requests = [
                GraphRequest(
                    "POST",
                    f"{user_path(changes[i].user_id)}/assignLicense",
                    assign_license_body(changes[i]),
                )
                for i in todo
            ]
            unknown: list[int] = []
            refused: list[int] = []
            delay = 0.0
            for i, response in zip(todo, self._client.batch(requests), strict=True):
                change = changes[i]
                if response.ok:
                    outcomes[i] = ChangeOutcome(change.user_id, OutcomeKind.APPLIED, licenses=change.after)
                    written.append(i)
                elif response.outcome_unknown:
                    unknown.append(i)
                    delay = max(delay, self._client.retry_delay(response, attempt))
                else:
                    refusal = graph_refusal(change, response, products, seen.get(change.user_id))
                    outcomes[i] = ChangeOutcome.failed(change.user_id, refusal)
                    refused.append(i)
            if refused and read_first:
                self._refused_but_done(changes, refused, outcomes)
            if not unknown:
                break
            if attempt >= self._client.config.max_retries:
                for i in unknown:
                    reason = DirectoryUnavailable("Graph kept throttling or failing the license write")
                    outcomes[i] = ChangeOutcome.failed(changes[i].user_id, reason)
                break
            attempt += 1
            log.info(
                "%d license writes without a sure outcome: reading them back in %.1fs", len(unknown), delay
            )
            self._client.pause(delay)
            todo = self._still_to_write(changes, unknown, outcomes, seen, products, written=True)
        return written

    def _check_states(
        self,
        changes: Sequence[UserChange],
        written: list[int],
        outcomes: dict[int, ChangeOutcome],
        products: LazyProducts,
    ) -> None:
        """Read the written users back: a product Graph holds in an error state did not work."""
        try:
            current = self._read_users([changes[i].user_id for i in written])
        except DomainError as error:
            # The writes were taken; only their states are unknown, and `/license show` shows them.
            log.warning("Graph took %d license writes, reading them back failed: %s", len(written), error)
            return
        for i in written:
            user = current.get(changes[i].user_id)
            failure = state_failure(changes[i], user, products) if user is not None else None
            if failure is not None and user is not None:
                outcomes[i] = failed_with(changes[i], failure, user)

    def _refused_but_done(
        self, changes: Sequence[UserChange], refused: list[int], outcomes: dict[int, ChangeOutcome]
    ) -> None:
        """A write refused although the user was read in the `before` state moments ago: another
        writer got there in between — a process killed with its request still in flight, whose
        work this one resumed. A user now in the `after` state is done, not failed."""
        try:
            current = self._read_users([changes[i].user_id for i in refused])
        except DomainError:
            return  # the refusal stands; a resume reads again anyway
        for i in refused:
            change, user = changes[i], current.get(changes[i].user_id)
            if user is not None and change.state_of(user.direct_licenses) == "after":
                outcomes[i] = ChangeOutcome(
                    change.user_id, OutcomeKind.ALREADY_APPLIED, licenses=user.licenses
                )

    def _still_to_write(
        self,
        changes: Sequence[UserChange],
        indices: list[int],
        outcomes: dict[int, ChangeOutcome],
        seen: dict[str, User],
        products: LazyProducts,
        *,
        written: bool,
    ) -> list[int]:
        """Read the users; record an outcome for those a write would not help; return the rest.

        `written`: a write may just have happened, so a user in the `after` state is APPLIED (by
        that write) rather than ALREADY_APPLIED.
        """
        current = self._read_users([changes[i].user_id for i in indices])
        todo: list[int] = []
        for i in indices:
            change = changes[i]
            user = current.get(change.user_id)
            if user is None:
                outcomes[i] = ChangeOutcome.failed(change.user_id, UnknownUser(change.user_principal_name))
                continue
            seen[change.user_id] = user
            # A write to a user changes only what is assigned to them directly (R21).
            state = change.state_of(user.direct_licenses)
            failure = state_failure(change, user, products) if state == "after" else None
            if failure is not None:
                outcomes[i] = failed_with(change, failure, user)
            elif state == "after":
                kind = OutcomeKind.APPLIED if written else OutcomeKind.ALREADY_APPLIED
                outcomes[i] = ChangeOutcome(change.user_id, kind, licenses=user.licenses)
            elif state == "before":
                todo.append(i)
            else:
                conflict = ChangeConflict(change.display_name)
                outcomes[i] = ChangeOutcome(
                    change.user_id, OutcomeKind.CONFLICT, conflict.message, conflict.rule, user.licenses
                )
        return todo

    def _read_users(self, user_ids: Sequence[str]) -> dict[str, User | None]:
        unique = list(dict.fromkeys(user_ids))
        found: dict[str, User | None] = {}
        for start in range(0, len(unique), MAX_BATCH):
            ids = unique[start : start + MAX_BATCH]
            requests = [
                GraphRequest("GET", relative_url(user_path(user_id), {"$select": USER_SELECT}))
                for user_id in ids
            ]
            for user_id, response in zip(ids, self._client.batch(requests), strict=True):
                if response.ok and isinstance(response.body, Mapping):
                    found[user_id] = parse_user(response.body)
                elif response.status == 404:
                    found[user_id] = None
                elif response.outcome_unknown:
                    raise DirectoryUnavailable(
                        response.error_message or f"reading users got {response.status}"
                    )
                else:
                    raise GraphRequestError(
                        "GET",
                        user_path(user_id),
                        status=response.status,
                        code=response.error_code,
                        message=response.error_message,
                        request_id=response.request_id,
                    )
        return found


def _sign_ins_refused(detail: str) -> str:
    """Why Graph would not give `signInActivity` (R22), in the admin's words."""
    if "premium" in detail.casefold() or "b2c" in detail.casefold():
        return "the tenant has no Microsoft Entra ID P1 or P2 license"
    return "licensebot lacks the AuditLog.Read.All permission"

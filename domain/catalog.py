"""What admins type for a product (E5, "Office 365 E5", ENTERPRISEPREMIUM, a skuId) → a product (R1).

Names come from the common products of `domain.product_table`, optionally widened by Microsoft's
"Product names and service plan identifiers for licensing" CSV (parsed by `parse_product_table`).
An alias that fits several products the tenant has is a question, not a guess.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from domain.errors import AmbiguousProduct, UnknownProduct
from domain.model import Product
from domain.product_table import PRODUCT_ROWS

_T = TypeVar("_T")

__all__ = [
    "COMMON_PRODUCTS",
    "KnownPlan",
    "KnownProduct",
    "ProductCatalog",
    "parse_product_table",
    "short_name",
]


@dataclass(frozen=True, slots=True)
class KnownPlan:
    id: str
    name: str
    display_name: str


@dataclass(frozen=True, slots=True)
class KnownProduct:
    """A product Microsoft sells, whether or not the tenant has it."""

    sku_id: str
    part_number: str
    display_name: str
    aliases: tuple[str, ...] = ()
    service_plans: tuple[KnownPlan, ...] = ()


COMMON_PRODUCTS: Mapping[str, KnownProduct] = {
    row.part_number: KnownProduct(row.sku_id, row.part_number, row.display_name, row.aliases)
    for row in PRODUCT_ROWS.values()
    if row.aliases
}
"""The products admins have short names for (`domain.product_table`), by their names only: their
service plans come from the tenant, or from Microsoft's whole table when one is loaded."""

_CSV_COLUMNS = ("Product_Display_Name", "String_Id", "GUID", "Service_Plan_Name", "Service_Plan_Id")


def parse_product_table(lines: Iterable[str]) -> dict[str, KnownProduct]:
    """Microsoft's licensing CSV (one row per product and service plan) → products by part number."""
    reader = csv.DictReader(line.lstrip("\ufeff") for line in lines)
    missing = [c for c in _CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"Not Microsoft's product table: columns {', '.join(missing)} missing")
    names: dict[str, tuple[str, str]] = {}
    plans: dict[str, list[KnownPlan]] = {}
    for row in reader:
        part = row["String_Id"].strip()
        names.setdefault(part, (row["GUID"].strip().lower(), row["Product_Display_Name"].strip()))
        friendly = (row.get("Service_Plans_Included_Friendly_Names") or "").strip()
        plan = KnownPlan(row["Service_Plan_Id"].strip().lower(), row["Service_Plan_Name"].strip(), friendly)
        if plan.id and plan not in plans.setdefault(part, []):
            plans[part].append(plan)
    return {
        part: KnownProduct(
            sku_id,
            part,
            display,
            COMMON_PRODUCTS[part].aliases if part in COMMON_PRODUCTS else (),
            tuple(plans.get(part, ())),
        )
        for part, (sku_id, display) in names.items()
    }


def short_name(part_number: str, display_name: str) -> str:
    """What an admin types for a product in a suggested command: its one-word alias from the table
    ("E5"), else its display name (commands take either; part numbers are for machines)."""
    known = COMMON_PRODUCTS.get(part_number)
    words = [a for a in known.aliases if len(_words(a)) == 1] if known else []
    return words[0] if words else display_name


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z+]", "", text.casefold())


@dataclass(frozen=True, slots=True)
class _Names:
    """Every name of one product: what a suggestion is ranked on and shown with."""

    part_number: str
    display_name: str
    aliases: tuple[str, ...]


_SUGGESTIONS = 3
_CLOSE_ENOUGH = 0.5
_RUNNERS_UP = 0.1
"""Suggest a second product only as close as this to the best one: not every "Microsoft 365 …" for
a "Microsoft 365 E5" the tenant does not have, when it has Office 365 E5."""
_BRAND_WORDS = frozenset({"microsoft", "office", "365", "m365", "o365"})
"""Words most product names share: a match on them says little about which product was meant."""
_TIER = re.compile(r"([a-z]+)(\d+)")
"""A plan tier such as E3, E5 or F3: E7 is nearer to E5 than to E3, and not near F3 at all."""


def _suggest(wanted: str, names: Sequence[_Names]) -> list[str]:
    """The products closest to what was typed, best first, each as an admin would type it."""
    scored = [(max(_closeness(wanted, name) for name in _all_names(n)), n) for n in names]
    ranked = sorted(scored, key=lambda pair: -pair[0])[:_SUGGESTIONS]
    if not ranked:
        return []
    enough = max(_CLOSE_ENOUGH, ranked[0][0] - _RUNNERS_UP)
    return [_typed_as(n, names) for score, n in ranked if score >= enough]


def _all_names(names: _Names) -> tuple[str, ...]:
    return (names.display_name, *names.aliases, names.part_number)


def _typed_as(names: _Names, among: Sequence[_Names]) -> str:
    """How to show a product so that it can be typed back: its display name with its shortest alias
    that names it alone ("Office 365 E5 (E5)"), or with its part number when no name is its own."""

    def unique(name: str) -> bool:
        return sum(1 for other in among if any(_norm(o) == _norm(name) for o in _all_names(other))) == 1

    def adds_something(alias: str) -> bool:  # not "Audio Conferencing (Audio Conferencing)"
        return len(_words(alias)) == 1 or _norm(alias) not in _norm(names.display_name)

    aliases = sorted((a for a in names.aliases if unique(a) and adds_something(a)), key=len)
    if aliases:
        return f"{names.display_name} ({aliases[0]})"
    if unique(names.display_name):
        return names.display_name
    return f"{names.display_name} ({names.part_number})"


def _closeness(wanted: str, name: str) -> float:
    """About 0 to 1: the closer of the spelling (a typo) and the words in common (a half-remembered
    name). Brand words both have ("Microsoft 365") are left out of the spelling: they tell nothing."""
    shared = _BRAND_WORDS.intersection(_words(wanted), _words(name))
    mine = "".join(w for w in _words(wanted) if w not in shared)
    theirs = "".join(w for w in _words(name) if w not in shared)
    spelling = difflib.SequenceMatcher(None, mine, theirs).ratio()
    return max(spelling, _words_in_common(wanted, name)) + _tier_nearness(wanted, name)


def _words_in_common(wanted: str, name: str) -> float:
    mine, theirs = set(_words(wanted)), set(_words(name))

    def weight(words: set[str]) -> float:
        return sum(0.25 if word in _BRAND_WORDS else 1.0 for word in words)

    union = weight(mine | theirs)
    return weight(mine & theirs) / union if union else 0.0


def _tier_nearness(wanted: str, name: str) -> float:
    """A small tie-breaker among tiers of one letter: for E7, E5 before E4 before E3."""
    best = 0.0
    for mine in map(_TIER.fullmatch, _words(wanted)):
        for theirs in map(_TIER.fullmatch, _words(name)):
            if mine and theirs and mine[1] == theirs[1] and mine[2] != theirs[2]:
                best = max(best, 0.1 / (1 + abs(int(mine[2]) - int(theirs[2]))))
    return best


def _words(text: str) -> list[str]:
    return re.findall(r"[0-9a-z+]+", text.casefold())


class ProductCatalog:
    """Resolves product names against what the tenant has, or against everything Microsoft sells."""

    def __init__(self, known: Mapping[str, KnownProduct] | None = None) -> None:
        self._known = dict(COMMON_PRODUCTS)
        if known:
            self._known.update(known)

    def display_name(self, part_number: str, fallback: str = "") -> str:
        known = self._known.get(part_number)
        return known.display_name if known else (fallback or part_number)

    def aliases(self, part_number: str) -> tuple[str, ...]:
        known = self._known.get(part_number)
        return known.aliases if known else ()

    def known(self, part_number: str) -> KnownProduct | None:
        return self._known.get(part_number)

    def resolve(self, key: str, products: Sequence[Product]) -> Product:
        """A product the tenant has, by skuId, part number, display name or alias."""
        wanted = key.strip()
        if not wanted:
            names = [_Names(p.part_number, p.display_name, self._aliases_of(p)) for p in products]
            raise UnknownProduct(key, known=[_typed_as(n, names) for n in names])
        hits = self._match(
            wanted, [(p.sku_id, p.part_number, p.display_name, self._aliases_of(p), p) for p in products]
        )
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise AmbiguousProduct(key, [(p.part_number, p.display_name) for p in hits])
        names = [_Names(p.part_number, p.display_name, self._aliases_of(p)) for p in products]
        raise UnknownProduct(key, _suggest(wanted, names), [_typed_as(n, names) for n in names])

    def resolve_any(self, key: str, products: Sequence[Product]) -> KnownProduct:
        """A product Microsoft sells (for buying): the tenant's own first, then the catalog."""
        try:
            owned = self.resolve(key, products)
        except UnknownProduct:
            pass
        else:
            known = self._known.get(owned.part_number)
            return known or KnownProduct(owned.sku_id, owned.part_number, owned.display_name)
        entries = [(k.sku_id, k.part_number, k.display_name, k.aliases, k) for k in self._known.values()]
        hits = self._match(key.strip(), entries)
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise AmbiguousProduct(key, [(k.part_number, k.display_name) for k in hits])
        names = [_Names(k.part_number, k.display_name, k.aliases) for k in self._known.values()]
        raise UnknownProduct(key, _suggest(key.strip(), names))

    @staticmethod
    def _match(wanted: str, entries: Sequence[tuple[str, str, str, Sequence[str], _T]]) -> list[_T]:
        folded = wanted.casefold()
        for exact in (
            [e for sku, _, _, _, e in entries if sku.casefold() == folded],
            [e for _, part, _, _, e in entries if part.casefold() == folded],
            [e for _, _, name, _, e in entries if _norm(name) == _norm(wanted)],
        ):
            if exact:
                return exact
        return [e for _, _, _, aliases, e in entries if any(_norm(a) == _norm(wanted) for a in aliases)]

    def _aliases_of(self, product: Product) -> tuple[str, ...]:
        """The catalog's aliases for the product, and any the tenant adapter gave it."""
        return tuple(dict.fromkeys((*self.aliases(product.part_number), *product.aliases)))

"""What admins type for a product (E5, "Office 365 E5", ENTERPRISEPREMIUM, a skuId) → a product (R1).

Names come from a compact table of common products kept here, optionally widened by Microsoft's
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

_T = TypeVar("_T")

__all__ = ["COMMON_PRODUCTS", "KnownPlan", "KnownProduct", "ProductCatalog", "parse_product_table"]


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


def _known(sku_id: str, part: str, name: str, *aliases: str) -> KnownProduct:
    return KnownProduct(sku_id, part, name, aliases)


COMMON_PRODUCTS: Mapping[str, KnownProduct] = {
    p.part_number: p
    for p in (
        _known("18181a46-0d4e-45cd-891e-60aabd171b4e", "STANDARDPACK", "Office 365 E1", "E1"),
        _known("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", "Office 365 E3", "E3"),
        _known("1392051d-0cb9-4b7a-88d5-621fee5e8711", "ENTERPRISEWITHSCAL", "Office 365 E4", "E4"),
        _known("c7df2760-2c81-4ef7-b578-5b5392b571df", "ENTERPRISEPREMIUM", "Office 365 E5", "E5"),
        _known("4b585984-651b-448a-9e53-3b10f069cf7f", "DESKLESSPACK", "Office 365 F3", "F3"),
        _known("05e9a617-0261-4cee-bb44-138d3ef5d965", "SPE_E3", "Microsoft 365 E3", "E3", "M365 E3"),
        _known("06ebc4ee-1bb5-47dd-8120-11324bc54e06", "SPE_E5", "Microsoft 365 E5", "E5", "M365 E5"),
        _known("66b55226-6b4f-492c-910c-a3b7a3c9d993", "SPE_F1", "Microsoft 365 F3", "F3", "M365 F3"),
        _known(
            "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
            "SPB",
            "Microsoft 365 Business Premium",
            "Business Premium",
            "BP",
        ),
        _known(
            "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
            "O365_BUSINESS_PREMIUM",
            "Microsoft 365 Business Standard",
            "Business Standard",
        ),
        _known(
            "3b555118-da6a-4418-894f-7df1e2096870",
            "O365_BUSINESS_ESSENTIALS",
            "Microsoft 365 Business Basic",
            "Business Basic",
        ),
        _known(
            "0c266dff-15dd-4b49-8397-2bb16070ed52",
            "MCOMEETADV",
            "Microsoft 365 Audio Conferencing",
            "Audio Conferencing",
        ),
        _known("f8a1db68-be16-40ed-86d5-cb42ce701560", "POWER_BI_PRO", "Power BI Pro", "PBI Pro"),
        _known(
            "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
            "EMS",
            "Enterprise Mobility + Security E3",
            "EMS E3",
        ),
    )
}

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


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z+]", "", text.casefold())


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
            raise UnknownProduct(key, known=[p.part_number for p in products])
        hits = self._match(
            wanted, [(p.sku_id, p.part_number, p.display_name, self._aliases_of(p), p) for p in products]
        )
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise AmbiguousProduct(key, [(p.part_number, p.display_name) for p in hits])
        raise UnknownProduct(key, self._suggest(wanted, products), [p.part_number for p in products])

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
        names = [k.part_number for k in self._known.values()] + [k.display_name for k in self._known.values()]
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
        raise UnknownProduct(key, close)

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

    def _suggest(self, wanted: str, products: Sequence[Product]) -> list[str]:
        # One name can belong to several products (the alias E5): suggest every one of them.
        names: dict[str, list[str]] = {}
        for product in products:
            for name in (product.part_number, product.display_name, *self._aliases_of(product)):
                names.setdefault(name.casefold(), []).append(product.part_number)
        close = difflib.get_close_matches(wanted.casefold(), list(names), n=3, cutoff=0.5)
        return list(dict.fromkeys(part for c in close for part in names[c]))

    def _aliases_of(self, product: Product) -> tuple[str, ...]:
        """The catalog's aliases for the product, and any the tenant adapter gave it."""
        return tuple(dict.fromkeys((*self.aliases(product.part_number), *product.aliases)))

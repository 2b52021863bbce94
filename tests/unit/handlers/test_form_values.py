"""Reading submitted forms, mapping refusals to the field to change, and sealing their metadata."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.application.results import UserServices
from domain.changes import ChangeKind
from domain.errors import (
    ChangeNotPending,
    NotAssignable,
    NotAuthorized,
    NotEnoughSeats,
    NoUsageLocation,
    OutsideOrganization,
    ServicePlanConflict,
)
from domain.model import LicenseAssignment
from handlers.blocks import license_form, services_form
from handlers.form_values import FormErrors, field_of, read_license_form, read_services_form
from handlers.ids import (
    FORM_MODE,
    FORM_MODE_BLOCK,
    FORM_PRODUCT,
    FORM_PRODUCT_BLOCK,
    FORM_USERS,
    FORM_USERS_BLOCK,
)
from handlers.metadata import FormSeal, TamperedForm
from tests.fakes import SKU_E5, make_product, make_user

E5 = make_product("ENTERPRISEPREMIUM", seats=10)
E3 = make_product("ENTERPRISEPACK", seats=25)
SERVICES_1 = f"form.services:{SKU_E5}:1"


def submitted(view: dict[str, Any], values: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    return {**view, "state": {"values": values}}


def built(chosen: bool = True) -> dict[str, Any]:
    return dict(license_form([E5, E3], "sealed", chosen=E5 if chosen else None).to_dict())


def service_values(view: dict[str, Any], off: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block in view["blocks"]:
        if str(block.get("block_id", "")).startswith("form.services:"):
            element = block["element"]
            chosen = [o for o in element["options"] if o["text"]["text"] not in off]
            values[block["block_id"]] = {
                element["action_id"]: {"type": "checkboxes", "selected_options": chosen}
            }
    return values


def filled(
    view: dict[str, Any], *, mode: str = "replace", off: frozenset[str] = frozenset()
) -> dict[str, Any]:
    values = {
        FORM_USERS_BLOCK: {FORM_USERS: {"type": "multi_users_select", "selected_users": ["U1", "U2", "U1"]}},
        FORM_PRODUCT_BLOCK: {FORM_PRODUCT: {"type": "static_select", "selected_option": {"value": SKU_E5}}},
        FORM_MODE_BLOCK: {FORM_MODE: {"type": "radio_buttons", "selected_option": {"value": mode}}},
        **service_values(view, set(off)),
    }
    return submitted(view, values)


def test_a_filled_form_reads_as_users_product_mode_and_services() -> None:
    view = built()
    form = read_license_form(filled(view, off=frozenset({"Sway"})))
    assert form.user_ids == ("U1", "U2")
    assert form.product == SKU_E5
    assert form.kind is ChangeKind.REPLACE
    sway = next(p.id for p in E5.service_plans if p.name == "SWAY")
    assert form.turn_off == (sway,)
    assert sway not in form.turn_on
    assert len(form.turn_on) == len([p for p in E5.service_plans if not p.automatic]) - 1


def test_removing_ignores_the_services() -> None:
    form = read_license_form(filled(built(), mode="remove", off=frozenset({"Sway"})))
    assert (form.kind, form.turn_on, form.turn_off) == (ChangeKind.REMOVE, (), ())


def test_ticks_of_another_products_blocks_and_values_never_offered_are_ignored() -> None:
    view = built()
    values = filled(view)["state"]["values"]
    values["form.services:other-sku:1"] = {"form.services.1": {"selected_options": [{"value": "x"}]}}
    values[SERVICES_1]["form.services.1"]["selected_options"].append({"value": "never-offered"})
    form = read_license_form(submitted(view, values))
    assert "x" not in form.turn_on
    assert "never-offered" not in form.turn_on


def test_empty_fields_are_form_errors() -> None:
    with pytest.raises(FormErrors) as wrong:
        read_license_form(submitted(built(chosen=False), {}))
    assert wrong.value.errors == {
        FORM_USERS_BLOCK: "Choose at least one person.",
        FORM_PRODUCT_BLOCK: "Choose a product.",
    }


def test_an_unknown_mode_is_a_form_error() -> None:
    with pytest.raises(FormErrors) as wrong:
        read_license_form(filled(built(), mode="delete-everyone"))
    assert list(wrong.value.errors) == [FORM_MODE_BLOCK]


def test_the_services_form_reads_only_what_changed() -> None:
    sway = next(p for p in E5.service_plans if p.name == "SWAY")
    teams = next(p for p in E5.service_plans if p.name == "TEAMS1")
    services = UserServices(make_user("carol", SKU_E5), E5, LicenseAssignment(SKU_E5, frozenset({sway.id})))
    view = dict(services_form(services, "sealed").to_dict())
    values = service_values(view, off={teams.display_name})
    for states in values.values():  # tick Sway, which the form opened unticked
        for state in states.values():
            options = next(
                b["element"]["options"]
                for b in view["blocks"]
                if b.get("element", {}).get("action_id") in states
            )
            state["selected_options"] = [o for o in options if o["text"]["text"] != teams.display_name]
    form = read_services_form(submitted(view, values), SKU_E5)
    assert form.turn_on == (sway.id,)
    assert form.turn_off == (teams.id,)


def test_a_services_form_saved_unchanged_says_so_on_the_services() -> None:
    services = UserServices(make_user("carol", SKU_E5), E5, LicenseAssignment(SKU_E5))
    view = dict(services_form(services, "sealed").to_dict())
    with pytest.raises(FormErrors) as wrong:
        read_services_form(submitted(view, service_values(view, off=set())), SKU_E5)
    assert wrong.value.errors == {SERVICES_1: "Nothing changed: tick or untick a service first."}


@pytest.mark.parametrize(
    ("error", "field"),
    [
        (NotEnoughSeats("ENTERPRISEPREMIUM", 4, 3), FORM_PRODUCT_BLOCK),
        (NotAssignable("Office 365 Extra File Storage", "Company"), FORM_PRODUCT_BLOCK),
        (NoUsageLocation("Nora Lee"), FORM_USERS_BLOCK),
        (OutsideOrganization("mallory@fabrikam.com", ["contoso.com"]), FORM_USERS_BLOCK),
        (ServicePlanConflict("Alice", "MCOIMP", "F3", "MCOSTANDARD", "E3"), SERVICES_1),
        (NotAuthorized("Dave", "assign", ["License Administrator"]), None),
        (ChangeNotPending("done"), None),
    ],
)
def test_each_refusal_goes_on_the_field_to_change(error: Exception, field: str | None) -> None:
    assert field_of(error, built(), SKU_E5) == field  # type: ignore[arg-type]


def test_a_conflict_without_services_to_untick_goes_on_the_mode() -> None:
    view = built(chosen=False)
    assert (
        field_of(ServicePlanConflict("A", "MCOIMP", "F3", "MCOSTANDARD", "E3"), view, SKU_E5)
        == FORM_MODE_BLOCK
    )


# --- the seal ---------------------------------------------------------------------------------

SEAL = FormSeal("8f2b1c0e5d4a49f6b7c3e2d1a0f9e8d7")
DATA = {"form": "license.form", "user": "U1", "channel": "C1"}


def test_a_sealed_form_opens_for_the_person_it_was_opened_for() -> None:
    sealed = SEAL.seal(DATA)
    assert len(sealed) < 3000
    assert SEAL.open(sealed, user_id="U1") == DATA


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s.replace('"C1"', '"C2"'),
        lambda s: s.replace('"U1"', '"U2"'),
        lambda s: "0" * 43 + s[43:],
        lambda s: s.split(".", 1)[1],
        lambda s: "",
        lambda s: s + " ",
    ],
)
def test_a_changed_seal_or_payload_is_refused(tamper: Any) -> None:
    with pytest.raises(TamperedForm) as refused:
        SEAL.open(tamper(SEAL.seal(DATA)), user_id="U1")
    assert "came back changed outside Slack" in refused.value.message


def test_a_form_opened_for_someone_else_or_sealed_with_another_secret_is_refused() -> None:
    with pytest.raises(TamperedForm):
        SEAL.open(SEAL.seal(DATA), user_id="U2")
    with pytest.raises(TamperedForm):
        FormSeal("another-secret").open(SEAL.seal(DATA), user_id="U1")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_metadata_is_refused_not_crashed_on(text: str) -> None:
    with pytest.raises(TamperedForm):
        SEAL.open(text, user_id="U1")


def test_no_secret_no_seal() -> None:
    with pytest.raises(ValueError, match="signing secret"):
        FormSeal("")

"""The prescriber's side of the chart driven as a physician's browser tab would, with the real
medication knowledge: the orders card, the Prescribe dialog (type-ahead where a brand finds the
generic, restricted and non-formulary products, each wrong field's message, the quantity before
signing, the interrupting warfarin + NSAID alert that needs an override reason), stopping, renewing
and the printable prescription. Attackers: a nurse calling the prescribing handlers by name, another
patient's order ids, signing past an interrupting alert with no reason, forged alert rules in the
override map, oversized and invalid fields."""

from __future__ import annotations

import pytest
import reflex as rx
from reflex_base import constants
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.organization import Department
from hms_app.models.pharmacy import MedicationOrder, MedicationOverride
from hms_app.models.security import AuditEvent
from hms_app.seed.pharmacy import load_formulary
from hms_app.services import accounts
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.chart.med_orders import ChartMedOrdersState
from hms_app.state.chart.medications import ChartMedicationsState
from hms_app.state.chart.page import ChartState
from hms_app.state.chart.prescribe import OVERRIDE_REASONS, ChartPrescribeState
from hms_app.state.prescription import PrescriptionPrintState
from tests.services.lab_world import _patient, years_ago
from tests.state.chart_tab import Tab
from tests.state.lab_desk_world import quiet  # noqa: F401  (autouse: quick hashes, no live notices)
from tests.state.test_patients_state import PASSWORD, _call, _tab, _toasts

WARFARIN_NSAID = "ddi:warfarin+nsaid"
IBUPROFEN = {
    "dose": "400",
    "dose_unit": "mg",
    "route": "oral",
    "frequency": "TID",
    "duration_days": "5",
    "setting": "outpatient",
}
WARFARIN = {"dose": "5", "dose_unit": "mg", "route": "oral", "frequency": "QD", "duration_days": "28", "setting": "outpatient"}  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def route_argument():
    rx.State.setup_dynamic_args(
        {"patient_id": constants.RouteArgType.SINGLE, "prescription_id": constants.RouteArgType.SINGLE}
    )


@pytest.fixture
def world(session):
    session.add(Department(code="GEN", name="General Medicine"))
    session.flush()
    products = load_formulary(session)
    man = _patient(session, "Walter", "Warfarin", "male", years_ago(60))
    woman = _patient(session, "Penny", "Other", "female", years_ago(35))
    accounts.ensure_roles(session)
    for username, name, role in (
        ("doc", "Dr Doc", "physician"),
        ("doc2", "Dr Two", "physician"),
        ("nina", "Nina Nurse", "nurse"),
        ("rita", "Rita Reception", "receptionist"),
    ):
        accounts.create_user(
            session, actor=SYSTEM_ACTOR, username=username, display_name=name, password=PASSWORD, roles=[role]
        )
    session.commit()
    return {"products": products, "man": man, "woman": woman}


async def _meds_tab(pid: int, username: str) -> Tab:
    tab = Tab(pid, username, PASSWORD)
    await tab.call(ChartState, "load")
    await tab.call(ChartState, "set_tab", "allergies")
    return tab


async def _prepare(tab: Tab, query: str, code: str, form: dict) -> list:
    await tab.call(ChartPrescribeState, "open_prescribe")
    await tab.call(ChartPrescribeState, "search", query)
    dialog = tab[ChartPrescribeState]
    hit = next(h for h in dialog.hits if h.code == code)
    await tab.call(ChartPrescribeState, "pick", hit.id)
    return await tab.call(ChartPrescribeState, "check", form)


async def _sign_ibuprofen(tab: Tab) -> None:
    await _prepare(tab, "Advil", "RX-IBU-400-TAB", IBUPROFEN)
    await tab.call(ChartPrescribeState, "sign")


def _orders(patient_id: int) -> list[MedicationOrder]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(
                select(MedicationOrder)
                .where(MedicationOrder.patient_id == patient_id)
                .order_by(MedicationOrder.id)
            ).scalars()
        )


def _denied() -> list[str]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(select(AuditEvent.detail).where(AuditEvent.action == "access.denied")).scalars()
        )


async def test_a_physician_prescribes_warfarin_to_a_patient_on_ibuprofen_past_the_alert(session, world):
    tab = await _meds_tab(world["man"], "doc")
    orders, dialog = tab[ChartMedOrdersState], tab[ChartPrescribeState]
    assert orders.orders_loaded and not orders.orders_forbidden and orders.orders == []

    # The type-ahead: a brand finds the generic, and says which brand matched.
    await tab.call(ChartPrescribeState, "open_prescribe")
    assert dialog.rx_open and dialog.step == "write" and dialog.title == "Prescribe"
    await tab.call(ChartPrescribeState, "search", "Advil")
    hit = next(h for h in dialog.hits if h.code == "RX-IBU-400-TAB")
    assert (hit.name, hit.brand, hit.pickable) == ("Ibuprofen 400 mg tablet", "Advil", True)
    # A restricted product shows why; a non-formulary one is listed but cannot be picked.
    await tab.call(ChartPrescribeState, "search", "oxycodone")
    oxy = next(h for h in dialog.hits if h.code == "RX-OXY-5-CAP")
    assert oxy.status == "restricted" and "palliative care" in oxy.restriction
    await tab.call(ChartPrescribeState, "search", "Ambien")
    [zolpidem] = dialog.hits
    assert (zolpidem.status, zolpidem.pickable) == ("non_formulary", False)
    await tab.call(ChartPrescribeState, "pick", zolpidem.id)
    assert dialog.product_id == 0 and "not on the formulary" in dialog.errors["product_id"]
    # Checking with no product names it.
    await tab.call(ChartPrescribeState, "check", IBUPROFEN)
    assert dialog.errors == {"product_id": "Choose a product from the formulary."} and dialog.step == "write"

    # Ibuprofen: its quantity before signing; nothing interrupting; signed it is on both lists.
    await _prepare(tab, "Advil", "RX-IBU-400-TAB", IBUPROFEN)
    assert dialog.step == "review" and dialog.errors == {}
    assert (dialog.sig, dialog.quantity) == ("400 mg oral TID for 5 days", "15 tablets")
    assert dialog.missing_overrides == 0 and not any(a.interrupt for a in dialog.alerts)
    events = await tab.call(ChartPrescribeState, "sign")
    assert any("Signed RX-" in t and "dispense 15 tablets" in t for t in _toasts(events))
    assert not dialog.rx_open
    [ibu] = orders.orders
    assert (ibu.status, ibu.quantity, ibu.product) == ("active", "15 tablets", "Ibuprofen 400 mg tablet")
    assert ibu.who.startswith("Signed ") and ibu.who.endswith("by doc")
    medications = tab[ChartMedicationsState].medications
    assert [(m.medication, m.dosage, m.order_reference) for m in medications] == [
        ("Ibuprofen 400 mg tablet", ibu.sig, ibu.reference)
    ]
    # The list's own Stop is not offered for it; called by name, it points at the order.
    events = await tab.call(ChartMedicationsState, "ask_stop", medications[0].id)
    assert any(f"Stop it through its order {ibu.reference}" in t for t in _toasts(events))
    assert tab[ChartMedicationsState].dialog == ""

    # Warfarin (found by its brand): every wrong field is named under it at once ...
    await _prepare(tab, "Coumadin", "RX-WARF-5-TAB", {**WARFARIN, "dose": "five", "frequency": "sometimes"})
    assert dialog.step == "write" and dialog.product_name == "Warfarin 5 mg tablet"
    assert set(dialog.errors) == {"dose", "frequency"} and "number" in dialog.errors["dose"]
    assert dialog.values["dose"] == "five"  # the form shows what was typed
    # ... then the checks: the interaction with the ibuprofen interrupts, in red with what to do.
    await tab.call(ChartPrescribeState, "check", WARFARIN)
    assert dialog.step == "review" and dialog.quantity == "28 tablets"
    [alert] = [a for a in dialog.alerts if a.interrupt]
    assert (alert.rule, alert.kind, alert.severity) == (WARFARIN_NSAID, "interaction", "major")
    assert "bleeding" in alert.message and "INR" in alert.action
    assert dialog.missing_overrides == 1
    # Signing with no reason signs nothing.
    await tab.call(ChartPrescribeState, "sign")
    assert dialog.error_text == "Give a reason to override each interrupting alert." and dialog.rx_open
    assert [o.status for o in _orders(world["man"])] == ["active", "draft"]
    # A rule the screen did not show is refused, and is not sent with the signature.
    events = await tab.call(ChartPrescribeState, "set_override_choice", "ddi:forged", OVERRIDE_REASONS[0])
    assert any("not on screen" in t for t in _toasts(events)) and "ddi:forged" not in dialog.override_choice
    events = await tab.call(ChartPrescribeState, "set_override_choice", WARFARIN_NSAID, "because")
    assert any("Choose a reason from the list." in t for t in _toasts(events))
    events = await tab.call(ChartPrescribeState, "set_override_text", WARFARIN_NSAID, "x" * 301)
    assert any("at most 300" in t for t in _toasts(events)) and dialog.missing_overrides == 1
    # "Other" needs its words; a reason from the list with details is enough.
    await tab.call(ChartPrescribeState, "set_override_choice", WARFARIN_NSAID, OVERRIDE_REASONS[-1])
    assert dialog.missing_overrides == 1
    await tab.call(ChartPrescribeState, "set_override_choice", WARFARIN_NSAID, OVERRIDE_REASONS[0])
    await tab.call(ChartPrescribeState, "set_override_text", WARFARIN_NSAID, "INR twice weekly")
    assert dialog.missing_overrides == 0
    events = await tab.call(ChartPrescribeState, "sign")
    assert any("Signed RX-" in t and "Warfarin" in t for t in _toasts(events))
    with hms_db.session_scope() as s:
        [override] = s.execute(select(MedicationOverride)).scalars().all()
        assert (override.rule, override.reason) == (
            WARFARIN_NSAID,
            f"{OVERRIDE_REASONS[0]}: INR twice weekly",
        )
    warf = next(o for o in orders.orders if o.product == "Warfarin 5 mg tablet")
    assert warf.status == "active" and WARFARIN_NSAID in warf.overrides

    # Stop the ibuprofen with a reason; renew the warfarin with one.
    await tab.call(ChartMedOrdersState, "ask_stop", ibu.id)
    await tab.call(ChartMedOrdersState, "submit_stop", {"reason": " "})
    assert orders.stop_error == "Say why the order is stopped." and orders.stop_open
    events = await tab.call(ChartMedOrdersState, "submit_stop", {"reason": "On warfarin now"})
    assert any("Stopped Ibuprofen" in t for t in _toasts(events))
    assert [o.product for o in orders.orders] == ["Warfarin 5 mg tablet"]
    await tab.call(ChartMedOrdersState, "set_show_ended", True)
    assert {o.status for o in orders.orders} == {"active", "stopped"}
    assert tab[ChartMedicationsState].medications[0].status in ("active", "stopped")

    await tab.call(ChartPrescribeState, "open_renew", warf.id)
    assert dialog.mode == "renew" and dialog.values["dose"] == "5" and dialog.values["frequency"] == "QD"
    await tab.call(ChartPrescribeState, "check", {**WARFARIN, "reason": ""})
    assert dialog.errors == {"reason": "Reason is required."}
    await tab.call(ChartPrescribeState, "check", {**WARFARIN, "reason": "Course continues"})
    assert dialog.step == "review" and dialog.missing_overrides == 0  # the ibuprofen is stopped
    await tab.call(ChartPrescribeState, "sign")
    statuses = sorted(o.status for o in _orders(world["man"]))
    assert statuses == ["active", "completed", "stopped"]

    # The printable prescription of the signed warfarin.
    renewed = next(o for o in _orders(world["man"]) if o.status == "active")
    page = _tab(PrescriptionPrintState, f"/pharmacy/prescriptions/{renewed.id}/print", "nina")
    await _call(page, "load")
    assert page.loaded and page.problem == ""
    assert (page.patient_name, page.product, page.reference) == (
        "WARFARIN, Walter",
        "Warfarin 5 mg tablet",
        renewed.reference,
    )
    assert (page.quantity_figures, page.quantity_words) == ("28", "twenty-eight tablets")
    assert page.prescriber == "Dr Doc (doc)" and page.sig == "5 mg oral QD for 28 days"
    with hms_db.session_scope() as s:
        printed = s.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "medication.print")
        ).scalars()
        assert list(printed) == [f"{renewed.reference} printed"]


async def test_the_wrong_role_another_patients_orders_and_forged_input_are_refused(session, world):
    doc = await _meds_tab(world["woman"], "doc")
    await _sign_ibuprofen(doc)
    [theirs] = _orders(world["woman"])

    # A nurse sees the orders but every prescribing handler is refused on the server.
    nurse = await _meds_tab(world["woman"], "nina")
    assert [o.id for o in nurse[ChartMedOrdersState].orders] == [theirs.id]
    for cls, name, args in (
        (ChartPrescribeState, "open_prescribe", ()),
        (ChartPrescribeState, "check", (IBUPROFEN,)),
        (ChartPrescribeState, "sign", ()),
        (ChartPrescribeState, "open_change", (theirs.id,)),
        (ChartMedOrdersState, "ask_stop", (theirs.id,)),
    ):
        events = await nurse.call(cls, name, *args)
        assert any("Your role does not allow this" in t for t in _toasts(events)), name
    assert not nurse[ChartPrescribeState].rx_open and not nurse[ChartMedOrdersState].stop_open
    assert "ChartPrescribeState.sign needs medication.order" in _denied()
    assert [o.status for o in _orders(world["woman"])] == ["active"]

    # The man's chart: the woman's order id is not on it, for stop, change, renew or a draft.
    other = await _meds_tab(world["man"], "doc")
    for cls, name in (
        (ChartMedOrdersState, "ask_stop"),
        (ChartPrescribeState, "open_change"),
        (ChartPrescribeState, "open_renew"),
        (ChartPrescribeState, "open_draft"),
    ):
        events = await other.call(cls, name, theirs.id)
        assert any("not on this chart" in t for t in _toasts(events)), name
    for bad in ("abc", -1, True, None, "1e3"):
        events = await other.call(ChartMedOrdersState, "ask_stop", bad)
        assert any("Choose a order from the list." in t for t in _toasts(events))
    assert not other[ChartMedOrdersState].stop_open

    # Oversized and invalid fields: named under each field, nothing prepared.
    dialog = other[ChartPrescribeState]
    await _prepare(
        other,
        "ibuprofen",
        "RX-IBU-400-TAB",
        {**IBUPROFEN, "instructions": "x" * 301, "dose": "1" * 50, "route": "iv", "duration_days": "0"},
    )
    assert {"instructions", "dose"} <= set(dialog.errors) and dialog.step == "write"
    await other.call(
        ChartPrescribeState, "check", {**IBUPROFEN, "route": "iv", "duration_days": "0", "prn": {"x": 1}}
    )
    assert set(dialog.errors) == {"prn"}
    await other.call(ChartPrescribeState, "check", {**IBUPROFEN, "route": "iv", "duration_days": "0"})
    assert set(dialog.errors) == {"route", "duration_days"} and "by mouth" in dialog.errors["route"]
    assert _orders(world["man"]) == []

    # Another physician cannot sign the first one's draft, even with the draft's id in their state.
    await _prepare(other, "Coumadin", "RX-WARF-5-TAB", WARFARIN)
    draft_id = dialog._draft_id
    second = await _meds_tab(world["man"], "doc2")
    sneaky = second[ChartPrescribeState]
    sneaky.rx_open, sneaky.step, sneaky._draft_id = True, "review", draft_id
    await second.call(ChartPrescribeState, "sign")
    assert "Only the prescriber who prepared" in sneaky.error_text
    assert [o.status for o in _orders(world["man"])] == ["draft"]
    # The first physician's draft is listed to him (to continue), not to his colleague.
    await other.call(ChartMedOrdersState, "reload_orders")
    assert [o.status for o in other[ChartMedOrdersState].orders] == ["draft"]
    assert second[ChartMedOrdersState].orders == []

    # A draft is not a prescription; a receptionist sees none.
    page = _tab(PrescriptionPrintState, f"/pharmacy/prescriptions/{draft_id}/print", "doc")
    await _call(page, "load")
    assert page.problem == "That medication order does not exist." and page.product == ""
    desk = _tab(PrescriptionPrintState, f"/pharmacy/prescriptions/{theirs.id}/print", "rita")
    events = await _call(desk, "load")
    assert any("Your role does not allow this" in t for t in _toasts(events)) and desk.patient_name == ""
    for path in ("/pharmacy/prescriptions/abc/print", "/pharmacy/prescriptions/0/print"):
        bad = _tab(PrescriptionPrintState, path, "doc")
        await _call(bad, "load")
        assert bad.problem.startswith("This address does not name a prescription.")

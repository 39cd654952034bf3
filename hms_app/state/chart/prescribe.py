"""The chart's Prescribe dialog: a structured medication order in two steps.

1. **Write**: find the product as one types (brand names find the generic; a restricted product shows
   its restriction; a non-formulary one is listed but cannot be picked), then dose and unit, route
   (the product's), frequency (codes with their times), duration or end date, when required with its
   indication, start, instructions, inpatient or outpatient. "Check" prepares the order
   (``prepare_order``, or ``prepare_change`` / ``prepare_renewal`` with their reason): each wrong
   field shows its message under it.
2. **Review**: the sig and the dispense quantity computed before signing, and the alerts of the
   order checks; each interrupting alert needs an override reason (a pick list plus free text) before
   "Sign" is enabled. "Edit" goes back to the form; checking again re-prepares the same draft.

The fields are read from the form at "Check" and kept in state, so the review signs exactly what was
checked. Override reasons are kept per rule, and only for the interrupting alerts on screen: a rule
the browser invents is refused. Every handler needs ``medication.order`` on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import reflex as rx

from hms_app.errors import DomainError, InvalidFields, ValidationError
from hms_app.services.pharmacy.changes import prepare_change, prepare_renewal
from hms_app.services.pharmacy.formulary import get_formulary_product, search_formulary
from hms_app.services.pharmacy.frequencies import frequency_choices
from hms_app.services.pharmacy.prescribing import OverrideRequired, prepare_order, sign_order
from hms_app.services.pharmacy.rows import AlertView, PreparedOrder, ProductView
from hms_app.state.chart.med_orders import ChartMedOrdersState, amount
from hms_app.state.chart.page import ChartState
from hms_app.state.forms import form_text, value_text
from hms_app.state.session import browser_id, requires

ORDER = "medication.order"
RX_TOAST = "chart-prescribe"
MAX_QUERY = 80
SEARCH_LIMIT = 12
FIELDS = (
    "dose", "dose_unit", "route", "frequency", "duration_days", "end_date", "prn", "prn_indication",
    "max_doses_per_day", "start", "instructions", "setting", "reason",
)  # fmt: skip
LIMITS = {"instructions": 300, "reason": 300, "prn_indication": 120}  # longer is refused here already
FIELD_LIMIT = 40  # every other field is a number, a code or a date
OVERRIDE_REASONS = (
    "Benefit outweighs the risk; will monitor",
    "Patient already tolerates this combination",
    "Dose adjusted for this patient",
    "Specialist advice",
    "Other (say why)",
)
OTHER = OVERRIDE_REASONS[-1]
MAX_OVERRIDE = 300
FREQUENCY_CHOICES = tuple(frequency_choices())  # (code, "BID: Twice a day (08:00, 20:00)")
MODES = {"new": "Prescribe", "change": "Change order", "renew": "Renew order", "draft": "Prescribe"}


@dataclass(frozen=True)
class ProductHit:
    id: int = 0
    name: str = ""
    code: str = ""
    detail: str = ""  # "Tablet · oral · warfarin 5 mg"
    status: str = ""  # formulary | restricted | non_formulary
    restriction: str = ""
    brand: str = ""  # the brand the query matched ("Coumadin"), "" if it matched otherwise
    pickable: bool = True


@dataclass(frozen=True)
class AlertLine:
    rule: str = ""
    kind: str = ""
    severity: str = ""
    interrupt: bool = False
    message: str = ""
    action: str = ""


def _hit(view: ProductView, query: str) -> ProductHit:
    text = query.strip().lower()
    brand = ""
    if text and text not in view.name.lower():
        brand = next((s for s in view.synonyms if text in s.lower()), "")
    strengths = ", ".join(
        f"{i.ingredient} {i.strength.normalize():f} {i.strength_unit}" for i in view.ingredients
    )
    return ProductHit(
        id=view.id,
        name=view.name,
        code=view.code,
        detail=f"{view.form_label} · {', '.join(view.routes)} · {strengths}",
        status=view.formulary_status,
        restriction=view.restriction or "",
        brand=brand,
        pickable=view.formulary_status != "non_formulary" and view.active,
    )


def _alert(view: AlertView) -> AlertLine:
    return AlertLine(view.rule, view.kind, view.severity, view.interrupt, view.message, view.action)


class ChartPrescribeState(ChartState):
    """The Prescribe dialog (also change, renew and continuing one's draft)."""

    TAB: ClassVar[str] = "allergies"

    rx_open: bool = False
    mode: str = "new"
    subject: str = ""  # the order being changed or renewed, in words
    step: str = "write"  # write | review
    query: str = ""
    hits: list[ProductHit] = []
    searching: bool = False
    product_id: int = 0
    product_name: str = ""
    product_restriction: str = ""
    routes: list[str] = []
    dose_units: list[str] = []
    values: dict[str, str] = {}  # the form's fields as last checked (or prefilled)
    errors: dict[str, str] = {}  # field -> message under it
    error_text: str = ""  # a refusal no field owns
    form_key: int = 0
    busy: bool = False
    # The review.
    reference: str = ""
    sig: str = ""
    quantity: str = ""  # "28 tablets"
    quantity_basis: str = ""
    alerts: list[AlertLine] = []
    override_choice: dict[str, str] = {}
    override_text: dict[str, str] = {}

    _draft_id: int = 0
    _replaces_id: int = 0

    @rx.var
    def missing_overrides(self) -> int:
        """Interrupting alerts still without a reason: "Sign" waits for none."""
        return sum(1 for a in self.alerts if a.interrupt and not self._reason_for(a.rule))

    @rx.var
    def title(self) -> str:
        return MODES.get(self.mode, "Prescribe")

    def _reason_for(self, rule: str) -> str:
        choice = self.override_choice.get(rule, "")
        text = " ".join(self.override_text.get(rule, "").split())
        if choice == OTHER or not choice:
            return text
        return f"{choice}: {text}" if text else choice

    def _reset_dialog(self, mode: str) -> None:
        self.rx_open, self.mode, self.subject, self.step = True, mode, "", "write"
        self.query, self.hits, self.searching, self.busy = "", [], False, False
        self.product_id, self.product_name, self.product_restriction = 0, "", ""
        self.routes, self.dose_units = [], []
        self.values = {"setting": "outpatient", "frequency": "QD"}
        self.errors, self.error_text = {}, ""
        self._forget_review()
        self._draft_id, self._replaces_id = 0, 0
        self.form_key += 1

    def _forget_review(self) -> None:
        self.reference, self.sig, self.quantity, self.quantity_basis = "", "", "", ""
        self.alerts, self.override_choice, self.override_text = [], {}, {}

    def _show_product(self, view: ProductView) -> None:
        self.product_id, self.product_name = view.id, view.name
        self.product_restriction = view.restriction or "" if view.formulary_status == "restricted" else ""
        self.routes, self.dose_units = list(view.routes), list(view.dose_units)
        values = dict(self.values)
        if values.get("route") not in self.routes:
            values["route"] = self.routes[0] if self.routes else ""
        if values.get("dose_unit") not in self.dose_units:
            values["dose_unit"] = self.dose_units[0] if self.dose_units else ""
        self.values = values
        self.errors = {k: v for k, v in self.errors.items() if k not in ("product_id", "route", "dose_unit")}

    async def _search(self) -> None:
        self.searching = True
        try:
            found = await self._read(search_formulary, query=self.query.strip(), limit=SEARCH_LIMIT)
        finally:
            self.searching = False
        self.hits = [_hit(view, self.query) for view in found]

    # ------------------------------------------------------------------ opening

    @rx.event
    @requires(ORDER)
    async def open_prescribe(self):
        if not self.pid:
            return None
        self._reset_dialog("new")
        return rx.set_focus("rx-search")

    async def _open_from(self, order_id, mode: str, *statuses: str):
        orders = await self.get_state(ChartMedOrdersState)
        line = orders._line(order_id, *statuses)
        self._reset_dialog(mode)
        view = await self._read(get_formulary_product, product_id=line.product_id)
        self.values = {
            "dose": line.dose,
            "dose_unit": line.dose_unit,
            "route": line.route,
            "frequency": line.frequency,
            "duration_days": line.duration_days,
            "end_date": line.end_date if mode == "draft" else "",
            "prn": "on" if line.prn else "",
            "prn_indication": line.prn_indication,
            "max_doses_per_day": line.max_doses_per_day,
            "instructions": line.instructions,
            "setting": line.setting,
        }
        if mode == "renew" and not line.duration_days:
            self.values["duration_days"] = ""
        self._show_product(view)
        self.subject = f"{line.product} ({line.reference}): {line.sig}"
        if mode == "draft":
            self._draft_id = line.id
        else:
            self._replaces_id = line.id

    @rx.event
    @requires(ORDER)
    async def open_change(self, order_id: int):
        try:
            await self._open_from(order_id, "change", "active")
        except DomainError as error:
            self.rx_open = False
            return rx.toast.error(str(error), id=RX_TOAST)
        return None

    @rx.event
    @requires(ORDER)
    async def open_renew(self, order_id: int):
        try:
            await self._open_from(order_id, "renew", "active")
        except DomainError as error:
            self.rx_open = False
            return rx.toast.error(str(error), id=RX_TOAST)
        return None

    @rx.event
    @requires(ORDER)
    async def open_draft(self, order_id: int):
        try:
            await self._open_from(order_id, "draft", "draft")
        except DomainError as error:
            self.rx_open = False
            return rx.toast.error(str(error), id=RX_TOAST)
        return None

    @rx.event
    @requires(ORDER)
    async def on_rx_dialog_change(self, is_open: bool):
        if not is_open:
            self.rx_open, self.busy = False, False

    # ------------------------------------------------------------------ the product

    @rx.event
    @requires(ORDER)
    async def search(self, query: str):
        if not self.rx_open or self.mode == "renew":
            return None
        try:
            self.query = value_text(query, "query", limit=MAX_QUERY, label="search")
            await self._search()
        except DomainError as error:
            return rx.toast.error(str(error), id=RX_TOAST)
        return None

    @rx.event
    @requires(ORDER)
    async def pick(self, product_id: int):
        if not self.rx_open or self.mode == "renew" or self.step != "write":
            return None
        try:
            wanted = browser_id(product_id, "product")
            hit = next((h for h in self.hits if h.id == wanted), None)
            if hit is None:
                raise ValidationError("Choose a product from the search results.", field="product_id")
            if not hit.pickable:
                raise ValidationError(
                    f"{hit.name} is not on the formulary: ask the pharmacy to add it first.",
                    field="product_id",
                )
            view = await self._read(get_formulary_product, product_id=hit.id)
        except DomainError as error:
            self.errors = {**self.errors, "product_id": str(error)}
            return None
        self._show_product(view)
        self.hits, self.query = [], ""
        return None

    @rx.event
    @requires(ORDER)
    async def clear_product(self):
        if self.rx_open and self.step == "write" and self.mode != "renew":
            self.product_id, self.product_name, self.product_restriction = 0, "", ""
            self.routes, self.dose_units = [], []
            return rx.set_focus("rx-search")
        return None

    # ------------------------------------------------------------------ check, edit, sign

    def _read_form(self, form: dict) -> dict[str, str]:
        values: dict[str, str] = {}
        errors: dict[str, str] = {}
        for name in FIELDS:
            try:
                values[name] = form_text(form, name, limit=LIMITS.get(name, FIELD_LIMIT)).strip()
            except ValidationError as error:
                errors[name] = str(error)
        if errors:
            raise InvalidFields(errors)
        return values

    def _data(self) -> dict:
        v = self.values
        return {
            "product_id": self.product_id,
            "setting": v.get("setting", ""),
            "dose": v.get("dose", ""),
            "dose_unit": v.get("dose_unit", ""),
            "route": v.get("route", ""),
            "frequency": v.get("frequency", ""),
            "duration_days": v.get("duration_days", ""),
            "end_date": v.get("end_date", ""),
            "prn": v.get("prn") == "on",
            "prn_indication": v.get("prn_indication", ""),
            "max_doses_per_day": v.get("max_doses_per_day", ""),
            "start": v.get("start", ""),
            "instructions": v.get("instructions", ""),
        }

    def _show_prepared(self, prepared: PreparedOrder) -> None:
        self._draft_id, self.reference, self.sig = prepared.order_id, prepared.reference, prepared.sig
        self.quantity = amount(prepared.dispense_quantity, prepared.dispense_unit)
        self.quantity_basis = prepared.quantity_basis
        self._show_alerts(prepared.alerts)
        self.step = "review"

    def _show_alerts(self, alerts) -> None:
        self.alerts = [_alert(a) for a in alerts]
        rules = {a.rule for a in self.alerts if a.interrupt}
        # Reasons already given stay for the alerts still shown; the others are forgotten.
        self.override_choice = {r: c for r, c in self.override_choice.items() if r in rules}
        self.override_text = {r: t for r, t in self.override_text.items() if r in rules}

    async def _prepare(self):
        data = self._data()
        if self.mode == "change":
            return await self._run(
                prepare_change,
                patient_id=self.pid,
                order_id=self._replaces_id,
                reason=self.values.get("reason", ""),
                data=data,
                draft_id=self._draft_id or None,
            )
        if self.mode == "renew" and not self._draft_id:
            return await self._run(
                prepare_renewal,
                patient_id=self.pid,
                order_id=self._replaces_id,
                reason=self.values.get("reason", ""),
                data={k: data[k] for k in ("duration_days", "end_date", "start", "instructions")},
            )
        return await self._run(prepare_order, patient_id=self.pid, data=data, draft_id=self._draft_id or None)

    @rx.event
    @requires(ORDER)
    async def check(self, form: dict):
        """Prepare the order from the form: the quantity and the checks, or each field's message."""
        if not self.pid or not self.rx_open or self.step != "write":
            return
        self.errors, self.error_text = {}, ""
        try:
            self.values = self._read_form(form)
            if not self.product_id:
                raise ValidationError("Choose a product from the formulary.", field="product_id")
        except InvalidFields as error:
            self.errors = dict(error.errors)
            return
        except ValidationError as error:
            self.errors = {error.field or "": str(error)}
            return
        self.busy = True
        yield
        try:
            prepared = await self._prepare()
        except InvalidFields as error:
            self.busy, self.errors = False, dict(error.errors)
            return
        except DomainError as error:
            self.busy = False
            if error.field and error.field in (*FIELDS, "product_id"):
                self.errors = {error.field: str(error)}
            else:
                self.error_text = str(error)
            return
        self.busy = False
        self._show_prepared(prepared)

    @rx.event
    @requires(ORDER)
    async def edit(self):
        if self.rx_open and self.step == "review":
            self.step, self.error_text = "write", ""
            self.form_key += 1  # the form shows the values as last checked

    @rx.event
    @requires(ORDER)
    async def set_override_choice(self, rule: str, choice: str):
        if not self._shown_interrupting(rule):
            return rx.toast.error("That alert is not on screen. Check the order again.", id=RX_TOAST)
        if choice not in OVERRIDE_REASONS:
            return rx.toast.error("Choose a reason from the list.", id=RX_TOAST)
        self.override_choice = {**self.override_choice, rule: choice}
        return None

    @rx.event
    @requires(ORDER)
    async def set_override_text(self, rule: str, text: str):
        if not self._shown_interrupting(rule):
            return rx.toast.error("That alert is not on screen. Check the order again.", id=RX_TOAST)
        try:
            text = value_text(text, "overrides", limit=MAX_OVERRIDE, label="override reason")
        except ValidationError as error:
            return rx.toast.error(str(error), id=RX_TOAST)
        self.override_text = {**self.override_text, rule: text}
        return None

    def _shown_interrupting(self, rule) -> bool:
        return isinstance(rule, str) and any(a.rule == rule and a.interrupt for a in self.alerts)

    @rx.event
    @requires(ORDER)
    async def sign(self):
        if not self.rx_open or self.step != "review" or not self._draft_id:
            return
        self.error_text = ""
        overrides = {a.rule: self._reason_for(a.rule) for a in self.alerts if a.interrupt}
        if any(not reason for reason in overrides.values()):
            self.error_text = "Give a reason to override each interrupting alert."
            return
        if any(len(reason) > MAX_OVERRIDE for reason in overrides.values()):
            self.error_text = f"An override reason can be at most {MAX_OVERRIDE} characters."
            return
        self.busy = True
        yield
        try:
            signed = await self._run(sign_order, order_id=self._draft_id, overrides=overrides)
        except OverrideRequired as error:
            # The chart changed since the check: the new alerts need their reasons too.
            self.busy, self.error_text = False, str(error)
            self._show_alerts(error.alerts)
            return
        except DomainError as error:
            self.busy, self.error_text = False, str(error)
            return
        self.rx_open, self.busy, self._draft_id = False, False, 0
        yield rx.toast.success(
            f"Signed {signed.reference}: {signed.product} {signed.sig}; dispense "
            f"{amount(signed.dispense_quantity, signed.dispense_unit)}.",
            id=RX_TOAST,
        )
        orders = await self.get_state(ChartMedOrdersState)
        yield await orders._after_change()

"""The chart's medication orders (Allergies & meds tab): the patient's active and ended orders and
the signed-in prescriber's own drafts, each with its sig, quantity, status and who signed it when;
stopping an active order with a reason. Read when the tab is first shown (``medication.read``; the
read is audited); stopping needs ``medication.order`` on the server. Ids the browser sends back are
looked up among the rows on screen, and the service refuses an order of another patient anyway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

import reflex as rx

from hms_app.clock import to_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services.pharmacy.changes import patient_orders, stop_order
from hms_app.services.pharmacy.quantity import dispense_amount
from hms_app.services.pharmacy.rows import OrderView
from hms_app.state.chart.page import ChartState, day_text
from hms_app.state.forms import form_text
from hms_app.state.laboratory.common import long_moment
from hms_app.state.session import browser_id, requires

READ = "medication.read"
ORDER = "medication.order"
MAX_REASON = 300
ORDERS_TOAST = "chart-med-orders"
SETTING_LABELS = {"inpatient": "Inpatient", "outpatient": "Outpatient"}
STATUS_LABELS = {
    "draft": "Draft (not signed)",
    "active": "Active",
    "stopped": "Stopped",
    "completed": "Completed",
    "changed": "Changed",
}


@dataclass(frozen=True)
class MedOrderLine:
    id: int = 0
    reference: str = ""
    product_id: int = 0
    product: str = ""
    sig: str = ""
    status: str = ""
    status_label: str = ""
    setting: str = ""
    setting_label: str = ""
    quantity: str = ""  # "28 tablets"
    who: str = ""  # "Signed 2026-05-01 09:12 by dr.grey" / "Prepared by dr.grey"
    ended: str = ""  # "2026-05-03 10:00 by dr.grey: rash"
    overrides: str = ""  # "ddi:warfarin+nsaid: INR weekly"
    sent_back: str = ""  # the pharmacist's reason for sending it back to the prescriber
    # The fields as the prescribe form holds them (change, renew, continue a draft).
    dose: str = ""
    dose_unit: str = ""
    route: str = ""
    frequency: str = ""
    prn: bool = False
    prn_indication: str = ""
    max_doses_per_day: str = ""
    duration_days: str = ""
    end_date: str = ""
    instructions: str = ""


def amount(quantity: int, unit: str) -> str:
    """ "28 tablets", "1 inhaler", "150 mL": a dispense quantity as a person writes it."""
    return dispense_amount(quantity, unit)


def order_line(view: OrderView) -> MedOrderLine:
    if view.signed_at is not None:
        who = f"Signed {long_moment(view.signed_at)} by {view.prescriber}"
    else:
        who = f"Prepared by {view.prescriber}"
    ended = ""
    if view.ended_at is not None:
        ended = f"{long_moment(view.ended_at)}" + (f": {view.end_reason}" if view.end_reason else "")
    end_date = ""
    if view.end_at is not None and not view.duration_days:
        end_date = day_text((to_local(view.end_at) - timedelta(days=1)).date())
    return MedOrderLine(
        id=view.id,
        reference=view.reference,
        product_id=view.product_id,
        product=view.product,
        sig=view.sig,
        status=view.status,
        status_label=STATUS_LABELS.get(view.status, view.status),
        setting=view.setting,
        setting_label=SETTING_LABELS.get(view.setting, view.setting),
        quantity=amount(view.dispense_quantity, view.dispense_unit),
        who=who,
        ended=ended,
        overrides="; ".join(view.overrides),
        sent_back=view.sent_back or "",
        dose=f"{Decimal(view.dose).normalize():f}",
        dose_unit=view.dose_unit,
        route=view.route,
        frequency=view.frequency,
        prn=view.prn,
        prn_indication=view.prn_indication or "",
        max_doses_per_day=str(view.max_doses_per_day or ""),
        duration_days=str(view.duration_days or ""),
        end_date=end_date,
        instructions=view.instructions or "",
    )


class ChartMedOrdersState(ChartState):
    """The medication orders card and its stop dialog."""

    TAB: ClassVar[str] = "allergies"

    orders_loaded: bool = False
    orders_loading: bool = False
    orders_forbidden: bool = False  # the role does not see medication orders
    orders: list[MedOrderLine] = []
    show_ended: bool = False
    # The stop dialog.
    stop_open: bool = False
    stop_subject: str = ""
    stop_error: str = ""
    stopping: bool = False

    _stop_id: int = 0

    async def _open(self):
        return None if self.orders_loaded else await self._load_orders()

    async def _load_orders(self):
        actor = self.acting()
        if not actor.can(READ):
            self.orders_forbidden, self.orders_loaded = True, True
            return None
        self.orders_loading = True
        try:
            views = await self._read(
                patient_orders,
                patient_id=self.pid,
                include_ended=self.show_ended,
                include_own_drafts=actor.can(ORDER),
            )
        except DomainError as error:
            return rx.toast.error(str(error), id=ORDERS_TOAST)
        finally:
            self.orders_loading = False
        self.orders, self.orders_loaded = [order_line(v) for v in views], True
        return None

    def _line(self, order_id, *statuses: str) -> MedOrderLine:
        wanted = browser_id(order_id, "order")
        for line in self.orders:
            if line.id == wanted and line.status in statuses:
                return line
        raise ValidationError("That order is not on this chart any more. Reload the tab.")

    @rx.event
    @requires(READ)
    async def reload_orders(self):
        if self.pid:
            return await self._load_orders()
        return None

    @rx.event
    @requires(READ)
    async def set_show_ended(self, show: bool):
        self.show_ended = show is True
        if self.pid:
            return await self._load_orders()
        return None

    @rx.event
    @requires(ORDER)
    async def ask_stop(self, order_id: int):
        try:
            line = self._line(order_id, "active")
        except DomainError as error:
            return rx.toast.error(str(error), id=ORDERS_TOAST)
        self._stop_id, self.stop_subject = line.id, f"{line.product} ({line.reference})"
        self.stop_open, self.stop_error, self.stopping = True, "", False
        return None

    @rx.event
    @requires(ORDER)
    async def on_stop_dialog_change(self, is_open: bool):
        if not is_open:
            self.stop_open, self._stop_id, self.stop_error = False, 0, ""

    @rx.event
    @requires(ORDER)
    async def submit_stop(self, form: dict):
        if not self.stop_open or not self._stop_id:
            self.stop_open = False
            return
        try:
            reason = form_text(form, "reason", limit=MAX_REASON, label="reason").strip()
            if not reason:
                raise ValidationError("Say why the order is stopped.", field="reason")
        except DomainError as error:
            self.stop_error = str(error)
            return
        self.stopping = True
        yield
        try:
            await self._run(stop_order, patient_id=self.pid, order_id=self._stop_id, reason=reason)
        except DomainError as error:
            self.stopping, self.stop_error = False, str(error)
            return
        subject = self.stop_subject
        self.stop_open, self.stopping, self._stop_id = False, False, 0
        yield rx.toast.success(f"Stopped {subject}: {reason}", id=ORDERS_TOAST)
        yield await self._after_change()

    async def _after_change(self):
        """The orders and the medication list they feed, read again."""
        from hms_app.state.chart.medications import ChartMedicationsState

        events = [await self._load_orders()]
        try:
            await (await self.get_state(ChartMedicationsState))._refresh()
        except DomainError as error:
            events.append(rx.toast.error(str(error), id=ORDERS_TOAST))
        return [e for e in events if e is not None] or None

"""The pharmacy's queue (/pharmacy): signed orders to verify, verified orders to dispense (with
what is still owed) and today's dispenses; the verify dialog (the alerts shown at signing and the
prescriber's override reasons, verify or send back), the dispense dialog (the lots first expiry
first shown before confirming, a witness for a controlled drug) and returns.

The queue follows the live topic "pharmacy" as the lab worklist follows "lab": a change anywhere
queues this tab's own guarded ``refresh``. Every handler re-checks its permission on the server, and
every id sent back must be a row this tab shows; the services check again."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.clock import local_today, to_local
from hms_app.errors import DomainError, Forbidden, ValidationError
from hms_app.services.pharmacy.dispense_views import dispensed_on, to_dispense
from hms_app.services.pharmacy.dispensing import dispense_order, plan_dispense, return_dispense
from hms_app.services.pharmacy.quantity import dispense_amount
from hms_app.services.pharmacy.verification import (
    count_to_verify,
    send_back_order,
    to_verify,
    verification_detail,
    verify_order,
)
from hms_app.state.boards.common import WATCH_REASON, now_label
from hms_app.state.forms import value_text
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires

READ = "medication.read"
VERIFY = "pharmacy.verify"
DISPENSE = "pharmacy.dispense"
LIVE = "pharmacy"
VIEWS = {"verify": "To verify", "dispense": "To dispense", "today": "Dispensed today"}
KIND_LABELS = {"new": "New", "change": "Change", "renew": "Renewal"}


def moment(value) -> str:
    local = to_local(value)
    if local is None:
        return ""
    return local.strftime("%H:%M") if local.date() == local_today() else local.strftime("%d %b %H:%M")


@dataclass(frozen=True)
class QueueLine:
    order_id: int = 0
    dispense_id: int = 0
    reference: str = ""
    order_reference: str = ""
    patient: str = ""
    mrn: str = ""
    product: str = ""
    sig: str = ""
    quantity: str = ""  # "40 tablets"
    kind: str = ""
    overrides: int = 0
    restricted: bool = False
    controlled: bool = False
    when: str = ""
    prescriber: str = ""
    owed: int = 0
    dispensed: int = 0
    returnable: int = 0
    by: str = ""
    witness: str = ""


@dataclass(frozen=True)
class AlertLine:
    rule: str = ""
    severity: str = ""
    interrupt: bool = False
    message: str = ""
    reason: str = ""  # the prescriber's override reason
    by: str = ""


@dataclass(frozen=True)
class LotLine:
    lot: str = ""
    expiry: str = ""
    quantity: int = 0


class PharmacyQueueState(SessionState):
    view: str = "verify"
    query: str = ""
    rows: list[QueueLine] = []
    counts: dict[str, int] = {}
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    busy: bool = False

    # The verify dialog.
    verify_open: bool = False
    v_order_id: int = 0
    v_title: str = ""
    v_patient: str = ""
    v_sig: str = ""
    v_quantity: str = ""
    v_basis: str = ""
    v_notes: list[str] = []  # restriction, the order it replaces, instructions
    v_alerts: list[AlertLine] = []
    v_overrides: int = 0
    v_reviewed: bool = False
    v_error: str = ""

    # The dispense dialog.
    dispense_open: bool = False
    d_order_id: int = 0
    d_title: str = ""
    d_patient: str = ""
    d_store: str = ""
    d_unit: str = ""
    d_owed: int = 0
    d_quantity: int = 0
    d_on_hand: int = 0
    d_on_hand_text: str = ""  # "12 tablets"
    d_short: bool = False
    d_controlled: bool = False
    d_lots: list[LotLine] = []
    d_error: str = ""
    last_dispense_id: int = 0
    last_dispense: str = ""

    # The return dialog.
    return_open: bool = False
    r_dispense_id: int = 0
    r_title: str = ""
    r_left: int = 0
    r_controlled: bool = False
    r_error: str = ""

    _opened: bool = False

    async def _reload(self) -> None:
        actor = self.acting()
        if not (actor.can(VERIFY) or actor.can(DISPENSE)):
            raise Forbidden("Your role does not give access to the pharmacy's queue.")
        counts: dict[str, int] = {}
        if actor.can(VERIFY):
            counts["verify"] = await self._read(count_to_verify)
        if actor.can(DISPENSE):
            counts["dispense"] = len(await self._read(to_dispense, limit=200))
        if self.view == "verify":
            rows = [self._queued(r) for r in await self._read(to_verify, search=self.query)]
        elif self.view == "dispense":
            rows = [
                self._queued(r.order, owed=r.owed, dispensed=r.dispensed)
                for r in await self._read(to_dispense, search=self.query)
            ]
        else:
            rows = [self._dispensed(r) for r in await self._read(dispensed_on, search=self.query)]
        self.rows, self.counts = rows, counts
        self.loaded, self._opened = True, True
        self.version += 1
        self.updated_at = now_label()

    @staticmethod
    def _queued(row, owed: int = 0, dispensed: int = 0) -> QueueLine:
        return QueueLine(
            order_id=row.order_id,
            reference=row.reference,
            order_reference=row.reference,
            patient=row.patient,
            mrn=row.mrn,
            product=row.product,
            sig=row.sig,
            quantity=dispense_amount(row.dispense_quantity, row.dispense_unit),
            kind=KIND_LABELS.get(row.kind, row.kind),
            overrides=row.overrides,
            restricted=row.restricted,
            controlled=row.controlled,
            when=moment(row.signed_at),
            prescriber=row.prescriber,
            owed=owed,
            dispensed=dispensed,
        )

    @staticmethod
    def _dispensed(row) -> QueueLine:
        return QueueLine(
            order_id=0,
            dispense_id=row.dispense_id,
            reference=row.reference,
            order_reference=row.order_reference,
            patient=row.patient,
            mrn=row.mrn,
            product=row.product,
            quantity=dispense_amount(row.quantity, row.unit)
            + (f" ({row.returned} returned)" if row.returned else ""),
            controlled=row.controlled,
            when=moment(row.dispensed_at),
            owed=row.owed,
            returnable=row.quantity - row.returned,
            by=row.dispensed_by,
            witness=row.witness or "",
        )

    async def _after(self, toast):
        """A success toast and the reloaded list (and its toast if the reload failed)."""
        problem = await self._show()
        return [toast] if problem is None else [toast, problem]

    async def _show(self):
        try:
            await self._reload()
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        return None

    def _row(self, value, *, key: str) -> QueueLine:
        wanted = browser_id(value, "order" if key == "order_id" else "dispense")
        row = next((r for r in self.rows if getattr(r, key) == wanted), None)
        if row is None:
            raise ValidationError("That row is no longer in this list: the queue has moved on.")
        return row

    @rx.event
    @requires(READ)
    async def load(self):
        actor = self.acting()
        wanted = self.router.url.query_parameters.get("view", "") if self.router else ""
        if isinstance(wanted, str) and wanted in VIEWS:
            self.view = wanted
        elif not actor.can(VERIFY):
            self.view = "dispense"
        self.verify_open = self.dispense_open = self.return_open = False
        return await self._show()

    @rx.event
    @requires(READ)
    async def refresh(self):
        if not self._opened:
            return None
        return await self._show()

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, LIVE, permission=READ):
            yield PharmacyQueueState.refresh

    @rx.event
    @requires(READ)
    async def set_view(self, view: str | list[str]):
        if not isinstance(view, str) or view not in VIEWS:
            return rx.toast.error("Choose one of the lists offered.")
        self.view = view
        return await self._show()

    @rx.event
    @requires(READ)
    async def search(self, query: str):
        try:
            text = value_text(query, "query", limit=60, label="search")
        except ValidationError as error:
            return rx.toast.error(str(error))
        self.query = " ".join(text.split())
        return await self._show()

    # ------------------------------------------------------------------ verification

    @rx.event
    @requires(VERIFY)
    async def open_verify(self, order_id: int):
        try:
            row = self._row(order_id, key="order_id")
            detail = await self._run(verification_detail, order_id=row.order_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        order = detail.order
        self.v_order_id, self.v_title = order.order_id, f"{order.reference} · {order.product}"
        self.v_patient = f"{order.patient} · {order.mrn}"
        self.v_sig = order.sig
        self.v_quantity = dispense_amount(order.dispense_quantity, order.dispense_unit)
        self.v_basis = detail.quantity_basis
        notes = []
        if detail.restriction:
            notes.append(f"Restricted: {detail.restriction}")
        if detail.replaces:
            notes.append(
                f"{KIND_LABELS.get(order.kind, order.kind)} of {detail.replaces}: {detail.replace_reason or ''}"
            )
        if detail.prn_indication:
            notes.append(f"When required for {detail.prn_indication}")
        if detail.instructions:
            notes.append(f"Instructions: {detail.instructions}")
        self.v_notes = notes
        self.v_alerts = [
            AlertLine(
                a.rule, a.severity, a.interrupt, a.message, a.override_reason or "", a.overridden_by or ""
            )
            for a in detail.alerts
        ]
        self.v_overrides, self.v_reviewed, self.v_error = order.overrides, False, ""
        self.verify_open = True
        return None

    @rx.event
    @requires(VERIFY)
    async def set_reviewed(self, checked: bool):
        self.v_reviewed = checked is True

    @rx.event
    @requires(VERIFY)
    async def close_verify(self, opened: bool = False):
        """The dialog's close button, Escape or a click outside it (Radix's open change)."""
        if opened is not True:
            self.verify_open, self.v_error = False, ""

    @rx.event
    @requires(VERIFY)
    async def verify(self):
        if not self.verify_open or self.busy:
            return None
        self.busy = True
        try:
            await self._run(verify_order, order_id=self.v_order_id, overrides_reviewed=self.v_reviewed)
        except DomainError as error:
            self.busy, self.v_error = False, str(error)
            return None
        self.busy, self.verify_open = False, False
        return await self._after(
            rx.toast.success(f"{self.v_title.split(' · ')[0]} verified: it is ready to dispense.")
        )

    @rx.event
    @requires(VERIFY)
    async def send_back(self, form: dict):
        if not self.verify_open or self.busy or not isinstance(form, dict):
            return None
        self.busy = True
        try:
            reason = value_text(form.get("reason", ""), "reason", limit=300, label="reason")
            await self._run(send_back_order, order_id=self.v_order_id, reason=reason)
        except DomainError as error:
            self.busy, self.v_error = False, str(error)
            return None
        self.busy, self.verify_open = False, False
        return await self._after(
            rx.toast.info(f"{self.v_title.split(' · ')[0]} sent back to the prescriber.")
        )

    # ------------------------------------------------------------------ dispensing

    async def _plan(self, order_id: int, quantity=None) -> None:
        plan = await self._read(plan_dispense, order_id=order_id, quantity=quantity)
        self.d_order_id, self.d_title = plan.order_id, f"{plan.reference} · {plan.product}"
        self.d_store, self.d_unit, self.d_owed = plan.location, plan.unit, plan.owed
        self.d_quantity, self.d_on_hand, self.d_short = plan.quantity, plan.on_hand, plan.short
        self.d_on_hand_text = dispense_amount(plan.on_hand, plan.unit)
        self.d_controlled = plan.controlled
        self.d_lots = [
            LotLine(
                lot.lot_number, lot.expiry_date.isoformat() if lot.expiry_date else "no expiry", lot.quantity
            )
            for lot in plan.lots
        ]

    @rx.event
    @requires(DISPENSE)
    async def open_dispense(self, order_id: int):
        try:
            row = self._row(order_id, key="order_id")
            await self._plan(row.order_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.d_patient = f"{row.patient} · {row.mrn}"
        self.d_error, self.dispense_open = "", True
        return None

    @rx.event
    @requires(DISPENSE)
    async def set_quantity(self, value: str):
        """A new quantity typed: the lots it would take are shown again before confirming."""
        if not self.dispense_open:
            return None
        try:
            text = value_text(value, "quantity", limit=8, label="quantity")
            await self._plan(self.d_order_id, text.strip() or None)
        except DomainError as error:
            self.d_error = str(error)
            return None
        self.d_error = ""
        return None

    @rx.event
    @requires(DISPENSE)
    async def close_dispense(self, opened: bool = False):
        """The dialog's close button, Escape or a click outside it (Radix's open change)."""
        if opened is not True:
            self.dispense_open, self.d_error = False, ""

    @rx.event
    @requires(DISPENSE)
    async def dispense(self, form: dict):
        if not self.dispense_open or self.busy or not isinstance(form, dict):
            return None
        self.busy = True
        try:
            quantity = value_text(form.get("quantity", ""), "quantity", limit=8, label="quantity").strip()
            witness = value_text(form.get("witness_username", ""), "witness", limit=60, label="witness")
            password = value_text(form.get("witness_password", ""), "witness", limit=256, label="password")
            done = await self._run(
                dispense_order,
                order_id=self.d_order_id,
                quantity=quantity or None,
                witness_username=witness or None,
                witness_password=password or None,
            )
        except DomainError as error:
            self.busy, self.d_error = False, str(error)
            return None
        self.busy, self.dispense_open = False, False
        self.last_dispense_id, self.last_dispense = (
            done.id,
            f"{done.reference} · {dispense_amount(done.quantity, self.d_unit)}",
        )
        return await self._after(rx.toast.success(f"{done.reference} dispensed: print its label."))

    # ------------------------------------------------------------------ returns

    @rx.event
    @requires(DISPENSE)
    async def open_return(self, dispense_id: int):
        try:
            row = self._row(dispense_id, key="dispense_id")
        except DomainError as error:
            return rx.toast.error(str(error))
        if row.returnable <= 0:
            return rx.toast.error(f"Everything of {row.reference} has come back already.")
        self.r_dispense_id, self.r_title = row.dispense_id, f"{row.reference} · {row.product}"
        self.r_left, self.r_controlled, self.r_error = row.returnable, row.controlled, ""
        self.return_open = True
        return None

    @rx.event
    @requires(DISPENSE)
    async def close_return(self, opened: bool = False):
        """The dialog's close button, Escape or a click outside it (Radix's open change)."""
        if opened is not True:
            self.return_open, self.r_error = False, ""

    @rx.event
    @requires(DISPENSE)
    async def return_stock(self, form: dict):
        if not self.return_open or self.busy or not isinstance(form, dict):
            return None
        self.busy = True
        try:
            await self._run(
                return_dispense,
                dispense_id=self.r_dispense_id,
                quantity=value_text(form.get("quantity", ""), "quantity", limit=8, label="quantity").strip(),
                reason=value_text(form.get("reason", ""), "reason", limit=300, label="reason"),
                witness_username=value_text(
                    form.get("witness_username", ""), "witness", limit=60, label="witness"
                )
                or None,
                witness_password=value_text(
                    form.get("witness_password", ""), "witness", limit=256, label="password"
                )
                or None,
            )
        except DomainError as error:
            self.busy, self.r_error = False, str(error)
            return None
        self.busy, self.return_open = False, False
        return await self._after(rx.toast.success(f"{self.r_title.split(' · ')[0]}: returned to stock."))

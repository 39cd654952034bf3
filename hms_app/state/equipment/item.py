"""One piece of equipment (/equipment/<id>): its details, its maintenance plans and its work
orders, with the dialogs that edit it, change its status, plan its maintenance and open, start,
complete (findings, downtime, parts from stock) and cancel work orders. Live: a change made
elsewhere (another engineer, the due-maintenance job) reloads the page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import reflex as rx

from hms_app.clock import local_today, utcnow
from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory.equipment import EQUIPMENT_FIELDS, LIVE_TOPIC, UNBOOKABLE_STATUSES
from hms_app.services.inventory.maintenance import (
    PLAN_FIELDS,
    WORK_ORDER_FIELDS,
    add_plan,
    cancel_work_order,
    complete_work_order,
    edit_plan,
    open_work_order,
    start_work_order,
)
from hms_app.services.inventory.maintenance_board import EquipmentDetail, equipment_detail, parts_on_hand
from hms_app.state.equipment.common import (
    FORM_LIMIT,
    PLAN_KIND_LABELS,
    STATUS_LABELS,
    WATCH_REASON,
    WORK_ORDER_KIND_LABELS,
    WORK_ORDER_STATUS_LABELS,
    EquipmentDialogs,
    Option,
    day_label,
    due_tone,
    due_words,
    minutes_label,
    moment_label,
    money_label,
    status_change_toast,
)
from hms_app.state.forms import form_text
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires

PART_LINES = 3  # parts the completion form takes at once


@dataclass
class Fact:
    label: str = ""
    value: str = ""


@dataclass
class PlanCard:
    id: int = 0
    kind: str = ""
    kind_label: str = ""
    description: str = ""
    every: str = ""
    interval_days: int = 0
    next_due: str = ""
    next_due_iso: str = ""
    last_done: str = ""
    active: bool = True
    due: str = ""
    due_tone: str = ""
    work_order_id: int = 0
    work_order: str = ""


@dataclass
class WorkOrderCard:
    id: int = 0
    reference: str = ""
    kind: str = ""
    kind_label: str = ""
    status: str = ""
    status_label: str = ""
    problem: str = ""
    findings: str = ""
    opened: str = ""
    started: str = ""
    completed: str = ""
    downtime: str = ""
    parts: str = ""
    open: bool = False


@dataclass
class PlanForm:
    id: int = 0
    kind: str = "preventive"
    description: str = ""
    interval_days: str = ""
    next_due: str = ""
    active: bool = True


def _route_id(path: str) -> int:
    match = re.match(r"^/equipment/([^/?#]*)", path or "")
    raw = match.group(1) if match else ""
    if not raw.isdigit() or len(raw) > 12 or int(raw) <= 0:
        raise ValidationError("This address does not name a piece of equipment. Open it from the register.")
    return int(raw)


def _plan_card(p, today) -> PlanCard:
    return PlanCard(
        id=p.id,
        kind=p.kind,
        kind_label=PLAN_KIND_LABELS.get(p.kind, p.kind),
        description=p.description,
        every=f"Every {p.interval_days} day{'s' if p.interval_days != 1 else ''}",
        interval_days=p.interval_days,
        next_due=day_label(p.next_due),
        next_due_iso=p.next_due.isoformat(),
        last_done=day_label(p.last_done) or "never",
        active=p.active,
        due=due_words(p.days_left) if p.active else "Stopped",
        due_tone=due_tone(p.days_left) if p.active else "later",
        work_order_id=p.work_order_id or 0,
        work_order=p.work_order,
    )


def _order_card(w) -> WorkOrderCard:
    return WorkOrderCard(
        id=w.id,
        reference=w.reference,
        kind=w.kind,
        kind_label=WORK_ORDER_KIND_LABELS.get(w.kind, w.kind),
        status=w.status,
        status_label=WORK_ORDER_STATUS_LABELS.get(w.status, w.status),
        problem=w.problem,
        findings=w.findings,
        opened=f"{moment_label(w.opened_at)} · {w.opened_by}",
        started=moment_label(w.started_at),
        completed=f"{moment_label(w.completed_at)} · {w.completed_by}" if w.completed_at else "",
        downtime=minutes_label(w.downtime_minutes) if w.status == "done" else "",
        parts="; ".join(w.parts),
        open=w.status in ("open", "in_progress"),
    )


class EquipmentItemState(EquipmentDialogs, SessionState):
    """One piece of equipment, its plans and work orders, and their dialogs."""

    FORM_FIELDS: ClassVar[tuple[str, ...]] = tuple(
        dict.fromkeys((*EQUIPMENT_FIELDS, "status", *PLAN_FIELDS, *WORK_ORDER_FIELDS, "plan_id"))
    )

    equipment_id: int = 0
    loaded: bool = False
    problem: str = ""
    asset_tag: str = ""
    name: str = ""
    status: str = ""
    status_label: str = ""
    status_since: str = ""
    status_note: str = ""
    facts: list[Fact] = []
    warranty: str = ""
    bookable_resource: str = ""
    appointments_ahead: int = 0
    plans: list[PlanCard] = []
    work_orders: list[WorkOrderCard] = []
    work_orders_total: int = 0
    downtime_year: str = ""
    version: int = 0

    # Dialogs of this page (besides the mixin's equipment and status dialogs).
    dialog_subject: str = ""
    plan_form: PlanForm = PlanForm()
    plan_kinds: list[Option] = [Option(code, label) for code, label in PLAN_KIND_LABELS.items()]
    plan_choices: list[Option] = []
    chosen_plan: str = "none"
    part_options: list[Option] = []
    suggested_downtime: str = "0"
    take_out_default: bool = False

    _detail: EquipmentDetail | None = None
    _target_id: int = 0  # the plan or work order the open dialog acts on

    def _show(self, detail: EquipmentDetail) -> None:
        e, today = detail.equipment, local_today()
        self._detail = detail
        self.asset_tag, self.name, self.status = e.asset_tag, e.name, e.status
        self.status_label = STATUS_LABELS.get(e.status, e.status)
        self.status_since, self.status_note = moment_label(e.status_since), e.status_note or ""
        if e.warranty_end is None:
            self.warranty = ""
        elif e.warranty_end >= today:
            self.warranty = f"Under warranty until {day_label(e.warranty_end)}"
        else:
            self.warranty = f"Warranty ended {day_label(e.warranty_end)}"
        facts = [
            ("Serial number", e.serial_number or ""),
            ("Manufacturer", e.manufacturer or ""),
            ("Model", e.model or ""),
            ("Location", detail.location),
            ("Department", detail.department),
            ("Purchased", day_label(e.purchase_date)),
            ("Purchase cost", money_label(e.purchase_cost_cents)),
            ("Warranty end", day_label(e.warranty_end)),
            ("Bookable as", detail.resource),
        ]
        self.facts = [Fact(label, value or "–") for label, value in facts]
        self.bookable_resource = detail.resource
        self.appointments_ahead = detail.appointments_ahead if e.status in UNBOOKABLE_STATUSES else 0
        self.plans = [_plan_card(p, today) for p in detail.plans]
        self.work_orders = [_order_card(w) for w in detail.work_orders]
        self.work_orders_total = detail.work_orders_total
        self.downtime_year = minutes_label(detail.downtime_minutes_year)
        self.loaded, self.problem = True, ""
        self.version += 1

    async def _reload(self):
        try:
            detail = await self._read(equipment_detail, equipment_id=self.equipment_id)
        except DomainError as error:
            self.loaded, self.problem = True, str(error)
            return None
        self._show(detail)
        return None

    @rx.event
    @requires("equipment.read")
    async def load(self):
        self._close()
        self.loaded, self.problem = False, ""
        try:
            self.equipment_id = _route_id(self.router.url.path if self.router else "")
        except ValidationError as error:
            self.loaded, self.problem = True, str(error)
            return None
        return await self._reload()

    @rx.event
    @requires("equipment.read")
    async def refresh(self):
        """Reload after a change notice (another engineer, the due-maintenance job)."""
        if not self.equipment_id or self.problem:
            return None
        return await self._reload()

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, LIVE_TOPIC, permission="equipment.read"):
            yield EquipmentItemState.refresh

    # ------------------------------------------------------------------ dialogs

    def _close(self) -> None:
        self._close_dialog()
        self.dialog_subject, self._target_id = "", 0

    async def _done(self, message: str):
        self._close()
        await self._reload()
        return rx.toast.success(message)

    @rx.event
    @requires("equipment.read")
    async def dialog_open_change(self, is_open: bool):
        if not is_open:
            self._close()

    @rx.event
    @requires("equipment.maintain")
    async def open_edit(self):
        if self._detail is None:
            return None
        try:
            await self._open_equipment_form(self._detail.equipment)
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("equipment.maintain")
    async def save_equipment(self, form: dict):
        saved = await self._save_equipment_form(form)
        if saved is None:
            return None
        return await self._done(f"{saved.asset_tag} {saved.name} saved.")

    @rx.event
    @requires("equipment.maintain")
    async def open_status(self):
        if not self.equipment_id or not self.status:
            return None
        if self.status == "retired":
            return rx.toast.error(f"{self.asset_tag} is retired; a retired item does not come back.")
        self._open_status_form(self.equipment_id, self.asset_tag, self.name, self.status)
        return None

    @rx.event
    @requires("equipment.maintain")
    async def save_status(self, form: dict):
        change = await self._save_status_form(form)
        if change is None:
            return None
        return await self._done(status_change_toast(change))

    def _plan(self, plan_id) -> PlanCard:
        wanted = browser_id(plan_id, "plan")
        for plan in self.plans:
            if plan.id == wanted:
                return plan
        raise ValidationError("Choose one of the plans on the page.")

    def _order(self, work_order_id) -> WorkOrderCard:
        wanted = browser_id(work_order_id, "work order")
        for order in self.work_orders:
            if order.id == wanted:
                return order
        raise ValidationError("Choose one of the work orders on the page.")

    def _open(self, name: str, subject: str, target: int = 0) -> None:
        self._close()
        self.dialog, self.dialog_subject, self._target_id = name, subject, target
        self.form_key += 1

    @rx.event
    @requires("equipment.maintain")
    async def open_plan(self, plan_id: int):
        """A new plan (0) or one on the page."""
        if plan_id in (0, "0"):
            self._open("plan", f"{self.asset_tag} {self.name}")
            self.plan_form = PlanForm()
            return None
        try:
            plan = self._plan(plan_id)
        except ValidationError as error:
            return rx.toast.error(str(error))
        self._open("plan", f"{plan.kind_label}: {plan.description}", plan.id)
        self.plan_form = PlanForm(
            plan.id, plan.kind, plan.description, str(plan.interval_days), plan.next_due_iso, plan.active
        )
        return None

    @rx.event
    @requires("equipment.maintain")
    async def save_plan(self, form: dict):
        if self.dialog != "plan":
            return None
        try:
            data = {name: form_text(form, name, limit=FORM_LIMIT) for name in PLAN_FIELDS}
        except ValidationError as error:
            self._fail(error)
            return None
        self.saving = True
        try:
            if self._target_id:
                plan = await self._run(edit_plan, plan_id=self._target_id, data=data)
            else:
                plan = await self._run(add_plan, equipment_id=self.equipment_id, data=data)
        except DomainError as error:
            self._fail(error)
            return None
        return await self._done(f"{plan.description}: next due {day_label(plan.next_due)}.")

    @rx.event
    @requires("equipment.maintain")
    async def open_new_work_order(self, plan_id: int):
        """A repair (0) or a plan's maintenance."""
        if self.status == "retired":
            return rx.toast.error(f"{self.asset_tag} is retired: it is no longer maintained.")
        chosen = "none"
        if plan_id not in (0, "0"):
            try:
                chosen = str(self._plan(plan_id).id)
            except ValidationError as error:
                return rx.toast.error(str(error))
        self._open("open_order", f"{self.asset_tag} {self.name}")
        self.plan_choices = [
            Option(str(p.id), f"{p.kind_label}: {p.description} ({p.due.lower()})")
            for p in self.plans
            if p.active and not p.work_order_id
        ]
        self.chosen_plan = chosen
        self.take_out_default = self.status == "out_of_service"
        return None

    @rx.event
    @requires("equipment.maintain")
    async def choose_plan(self, value: str):
        if not isinstance(value, str):
            return None
        if value == "none" or value in {o.value for o in self.plan_choices}:
            self.chosen_plan = value
        return None

    @rx.event
    @requires("equipment.maintain")
    async def save_work_order(self, form: dict):
        if self.dialog != "open_order":
            return None
        try:
            problem = form_text(form, "problem", limit=FORM_LIMIT)
            plan = form_text(form, "plan_id", limit=20) or self.chosen_plan
            take_out = form_text(form, "take_out_of_service", limit=5) == "on"
        except ValidationError as error:
            self._fail(error)
            return None
        if plan != "none" and plan not in {o.value for o in self.plan_choices}:
            self._fail(ValidationError("Choose one of the plans in the list.", field="plan_id"))
            return None
        self.saving = True
        try:
            order = await self._run(
                open_work_order,
                equipment_id=self.equipment_id,
                problem=problem,
                plan_id=None if plan == "none" else int(plan),
                take_out_of_service=take_out,
            )
        except DomainError as error:
            self._fail(error)
            return None
        return await self._done(f"{order.reference} opened.")

    @rx.event
    @requires("equipment.maintain")
    async def start(self, work_order_id: int):
        try:
            order = self._order(work_order_id)
            await self._run(start_work_order, work_order_id=order.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done(f"{order.reference} started.")

    @rx.event
    @requires("equipment.maintain")
    async def open_complete(self, work_order_id: int):
        try:
            order = self._order(work_order_id)
            if not order.open:
                raise ValidationError(f"{order.reference} is {order.status_label.lower()}.")
            parts = await self._read(parts_on_hand)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open("complete", f"{order.reference} · {order.problem}", order.id)
        self.part_options = [Option(f"{p.item_id}:{p.location_id}", p.label) for p in parts]
        # While the equipment is out of use, the downtime so far is a fair first guess.
        detail = self._detail
        row = next((w for w in detail.work_orders if w.id == order.id), None) if detail else None
        if row is not None and self.status in ("under_maintenance", "out_of_service"):
            self.suggested_downtime = str(max(0, int((utcnow() - row.opened_at).total_seconds() // 60)))
        else:
            self.suggested_downtime = "0"
        return None

    def _parts_from(self, form: dict) -> list[dict]:
        offered = {o.value for o in self.part_options}
        parts = []
        for n in range(1, PART_LINES + 1):
            chosen = form_text(form, f"part_{n}", limit=30)
            quantity = form_text(form, f"quantity_{n}", limit=10).strip()
            if chosen in ("", "none") and not quantity:
                continue
            if chosen not in offered:
                raise ValidationError(f"Choose part {n} from the list, or clear its quantity.", field="parts")
            if not quantity:
                raise ValidationError(f"Enter how many of part {n} were used.", field="parts")
            item_id, location_id = (int(x) for x in chosen.split(":"))
            parts.append({"item_id": item_id, "location_id": location_id, "quantity": quantity})
        return parts

    @rx.event
    @requires("equipment.maintain")
    async def save_complete(self, form: dict):
        if self.dialog != "complete" or not self._target_id:
            return None
        try:
            findings = form_text(form, "findings", limit=1000)
            downtime = form_text(form, "downtime", limit=20)
            back = form_text(form, "return_to_service", limit=5) == "on"
            parts = self._parts_from(form)
        except ValidationError as error:
            self._fail(error)
            return None
        self.saving = True
        try:
            order = await self._run(
                complete_work_order,
                work_order_id=self._target_id,
                findings=findings,
                downtime=downtime,
                return_to_service=back,
                parts=parts,
            )
        except DomainError as error:
            self._fail(error)
            return None
        return await self._done(f"{order.reference} done.")

    @rx.event
    @requires("equipment.maintain")
    async def open_cancel(self, work_order_id: int):
        try:
            order = self._order(work_order_id)
        except ValidationError as error:
            return rx.toast.error(str(error))
        self._open("cancel", f"{order.reference} · {order.problem}", order.id)
        return None

    @rx.event
    @requires("equipment.maintain")
    async def save_cancel(self, form: dict):
        if self.dialog != "cancel" or not self._target_id:
            return None
        try:
            reason = form_text(form, "reason", limit=FORM_LIMIT)
        except ValidationError as error:
            self._fail(error)
            return None
        self.saving = True
        try:
            order = await self._run(cancel_work_order, work_order_id=self._target_id, reason=reason)
        except DomainError as error:
            self._fail(error)
            return None
        return await self._done(f"{order.reference} cancelled.")

"""Schedule set-up (/schedule/setup): resources, services with their visit types, weekly templates,
and leave, closures and holidays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import reflex as rx

from hms_app.clock import to_local
from hms_app.errors import DomainError, ValidationError
from hms_app.plurals import counted, noun
from hms_app.services.scheduling.calendar import read_setup
from hms_app.services.scheduling.setup import (
    ExceptionRow,
    add_availability_exception,
    add_availability_rule,
    appointments_during,
    delete_availability_exception,
    delete_availability_rule,
    link_resource_service,
    list_rules,
    save_appointment_type,
    save_resource,
    save_service,
)
from hms_app.state.scheduling.common import ANY, KIND_LABELS, Option, form_value
from hms_app.state.session import SessionState, requires


@dataclass
class ResourceLine:
    id: int = 0
    kind: str = ""
    kind_label: str = ""
    name: str = ""
    department_id: str = ""
    department: str = ""
    capability: str = ""
    active: bool = True


@dataclass
class TypeLine:
    id: int = 0
    service_id: int = 0
    code: str = ""
    name: str = ""
    minutes: int = 0
    mode: str = "in_person"
    price_code: str = ""
    needs_room: bool = False
    needs_equipment: str = ""
    active: bool = True


@dataclass
class ServiceLine:
    id: int = 0
    code: str = ""
    name: str = ""
    department_id: str = ""
    department: str = ""
    self_bookable: bool = False
    active: bool = True
    types: list[TypeLine] = field(default_factory=list)
    linked: list[Option] = field(default_factory=list)
    min_age: str = ""
    max_age: str = ""
    for_sex: str = ""
    eligibility: str = ""  # "aged 40 to 74, women and girls"; "" for anyone


@dataclass
class RuleLine:
    id: int = 0
    weekday: int = 0
    weekday_label: str = ""
    hours: str = ""
    valid: str = ""


@dataclass
class ExceptionLine:
    id: int = 0
    kind: str = ""
    scope: str = ""
    when: str = ""
    reason: str = ""


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SETUP_TABS = ("resources", "services", "templates", "exceptions")
SETUP_DIALOGS = ("resource", "service", "type")
SETUP_FIELDS = (
    "kind",
    "name",
    "department_id",
    "capability",
    "code",
    "duration_minutes",
    "mode",
    "price_code",
    "needs_equipment",
    "service_id",
    "resource_id",
    "weekday",
    "start_time",
    "end_time",
    "valid_from",
    "valid_to",
    "starts_at",
    "ends_at",
    "reason",
)


def _checked(form, key: str) -> bool:
    return form_value(form, key).lower() in ("on", "true", "1", "yes")


def _exception_when(row: ExceptionRow) -> str:
    start, end = to_local(row.starts_at), to_local(row.ends_at)
    if start.time() == end.time() == datetime.min.time():
        last = end.date() - timedelta(days=1)
        return start.strftime("%a %d %b %Y") + (
            "" if last == start.date() else " – " + last.strftime("%a %d %b %Y")
        )
    if start.date() == end.date():
        return f"{start:%a %d %b %Y} {start:%H:%M}–{end:%H:%M}"
    return f"{start:%a %d %b %Y %H:%M} – {end:%a %d %b %Y %H:%M}"


class ScheduleSetupState(SessionState):
    """Resources, services with visit types, weekly templates and exceptions."""

    tab: str = "resources"
    departments: list[Option] = []
    resources: list[ResourceLine] = []
    services: list[ServiceLine] = []
    exceptions: list[ExceptionLine] = []
    loaded: bool = False

    # The edit dialogs (resource, service, visit type): what the form starts with.
    dialog: str = ""
    form: dict[str, str] = {}
    error_field: str = ""
    error_text: str = ""
    saving: bool = False

    # Weekly template of one resource.
    rules_resource_id: str = ""
    rules: list[RuleLine] = []
    rule_form_version: int = 0
    # Exceptions.
    exception_scope: str = "resource"  # resource | department | hospital
    exception_form_version: int = 0
    exception_warning: str = ""

    _editing_id: int = 0
    _pending_exception: dict = {}

    async def _reload(self) -> None:
        data = await self._run(read_setup)
        names = {d.id: d.name for d in data.departments}
        self.departments = [Option(str(d.id), d.name) for d in data.departments]
        self.resources = [
            ResourceLine(
                r.id,
                r.kind,
                KIND_LABELS.get(r.kind, r.kind),
                r.name,
                str(r.department_id),
                names.get(r.department_id, ""),
                (r.capability or "").upper(),
                r.active,
            )
            for r in sorted(data.resources, key=lambda r: (names.get(r.department_id, ""), r.kind, r.name))
        ]
        self.services = [
            ServiceLine(
                s.id,
                s.code,
                s.name,
                str(s.department_id),
                s.department_name,
                s.self_bookable,
                s.active,
                [
                    TypeLine(
                        t.id,
                        s.id,
                        t.code,
                        t.name,
                        t.duration_minutes,
                        t.mode,
                        t.price_code or "",
                        t.needs_room,
                        t.needs_equipment or "",
                        t.active,
                    )
                    for t in s.visit_types
                ],
                [Option(str(link.resource_id), link.name, link.kind) for link in data.links.get(s.id, [])],
                "" if s.min_age is None else str(s.min_age),
                "" if s.max_age is None else str(s.max_age),
                s.for_sex or "",
                s.eligibility,
            )
            for s in data.services
        ]
        self.exceptions = [
            ExceptionLine(e.id, e.kind, e.scope, _exception_when(e), e.reason) for e in data.exceptions
        ]
        if self.rules_resource_id and self.rules_resource_id not in {str(r.id) for r in self.resources}:
            self.rules_resource_id, self.rules = "", []
        if not self.rules_resource_id and self.resources:
            self.rules_resource_id = str(self.resources[0].id)
        if self.rules_resource_id:
            await self._reload_rules()
        self.loaded = True

    async def _reload_rules(self) -> None:
        rows = await self._run(list_rules, resource_id=int(self.rules_resource_id))
        self.rules = [
            RuleLine(
                r.id,
                r.weekday,
                WEEKDAYS[r.weekday],
                f"{r.start_time:%H:%M}–{r.end_time:%H:%M}",
                f"from {r.valid_from:%d %b %Y}" + (f" to {r.valid_to:%d %b %Y}" if r.valid_to else ""),
            )
            for r in rows
        ]

    async def _safe_reload(self):
        try:
            await self._reload()
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        return None

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        self.error_text = str(error)
        self.error_field = error.field if error.field in SETUP_FIELDS else ""

    def _clear_errors(self) -> None:
        self.error_field = self.error_text = ""
        self.saving = False

    @rx.event
    @requires("schedule.manage")
    async def load(self):
        self.dialog = ""
        self._clear_errors()
        return await self._safe_reload()

    @rx.event
    @requires("schedule.manage")
    async def set_tab(self, value: str):
        if value not in SETUP_TABS:
            return None
        self.tab = value
        self._clear_errors()
        self.exception_warning, self._pending_exception = "", {}
        return None

    # ------------------------------------------------------------------ the edit dialogs

    @rx.event
    @requires("schedule.manage")
    async def open_resource(self, resource_id: int):
        line = next((r for r in self.resources if r.id == resource_id), None)
        if resource_id and line is None:
            return rx.toast.error("Choose a resource from the list.")
        self._editing_id = resource_id if line else 0
        self.form = (
            {
                "kind": line.kind,
                "name": line.name,
                "department_id": line.department_id,
                "capability": line.capability.lower(),
                "active": "on" if line.active else "",
            }
            if line
            else {"kind": "provider", "name": "", "department_id": "", "capability": "", "active": "on"}
        )
        self.dialog = "resource"
        self._clear_errors()
        return None

    @rx.event
    @requires("schedule.manage")
    async def open_service(self, service_id: int):
        line = next((s for s in self.services if s.id == service_id), None)
        if service_id and line is None:
            return rx.toast.error("Choose a service from the list.")
        self._editing_id = service_id if line else 0
        self.form = (
            {
                "code": line.code,
                "name": line.name,
                "department_id": line.department_id,
                "self_bookable": "on" if line.self_bookable else "",
                "active": "on" if line.active else "",
                "min_age": line.min_age,
                "max_age": line.max_age,
                "for_sex": line.for_sex or ANY,
            }
            if line
            else {
                "code": "",
                "name": "",
                "department_id": "",
                "self_bookable": "",
                "active": "on",
                "min_age": "",
                "max_age": "",
                "for_sex": ANY,
            }
        )
        self.dialog = "service"
        self._clear_errors()
        return None

    @rx.event
    @requires("schedule.manage")
    async def open_type(self, service_id: int, type_id: int):
        service = next((s for s in self.services if s.id == service_id), None)
        if service is None:
            return rx.toast.error("Choose a service from the list.")
        line = next((t for t in service.types if t.id == type_id), None)
        if type_id and line is None:
            return rx.toast.error("Choose a visit type from the list.")
        self._editing_id = type_id if line else 0
        self.form = {
            "service_id": str(service.id),
            "service": service.name,
            "code": line.code if line else "",
            "name": line.name if line else "",
            "duration_minutes": str(line.minutes) if line else "15",
            "mode": line.mode if line else "in_person",
            "price_code": line.price_code if line else "",
            "needs_room": "on" if line and line.needs_room else "",
            "needs_equipment": line.needs_equipment if line else "",
            "active": "on" if (line is None or line.active) else "",
        }
        self.dialog = "type"
        self._clear_errors()
        return None

    @rx.event
    @requires("schedule.manage")
    async def close_dialog(self):
        self.dialog = ""
        self._clear_errors()

    @rx.event
    @requires("schedule.manage")
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self.dialog = ""
            self._clear_errors()

    @rx.event
    @requires("schedule.manage")
    async def save_dialog(self, form: dict):
        if self.dialog not in SETUP_DIALOGS:
            return None
        try:
            if self.dialog == "resource":
                data = {k: form_value(form, k) for k in ("kind", "name", "department_id", "capability")}
                data["active"] = _checked(form, "active")
                fn, key = save_resource, "resource_id"
            elif self.dialog == "service":
                data = {
                    k: form_value(form, k) for k in ("code", "name", "department_id", "min_age", "max_age")
                }
                sex = form_value(form, "for_sex")
                data["for_sex"] = "" if sex == ANY else sex
                data["self_bookable"], data["active"] = (
                    _checked(form, "self_bookable"),
                    _checked(form, "active"),
                )
                fn, key = save_service, "service_id"
            else:
                data = {
                    k: form_value(form, k)
                    for k in ("code", "name", "duration_minutes", "mode", "price_code", "needs_equipment")
                }
                data["service_id"] = self.form.get("service_id", "")
                data["needs_room"], data["active"] = _checked(form, "needs_room"), _checked(form, "active")
                fn, key = save_appointment_type, "appointment_type_id"
        except ValidationError as error:
            self._fail(error)
            return None
        self.saving, self.error_field, self.error_text = True, "", ""
        try:
            await self._run(fn, data=data, **{key: self._editing_id or None})
            await self._reload()
        except DomainError as error:
            self._fail(error)
            return None
        what = {"resource": "Resource", "service": "Service", "type": "Visit type"}[self.dialog]
        self.dialog, self.saving = "", False
        return rx.toast.success(f"{what} saved.")

    # ------------------------------------------------------------------ links

    @rx.event
    @requires("schedule.manage")
    async def link(self, service_id: int, resource_id: str):
        return await self._link(service_id, resource_id, True)

    @rx.event
    @requires("schedule.manage")
    async def unlink(self, service_id: int, resource_id: str):
        return await self._link(service_id, resource_id, False)

    async def _link(self, service_id, resource_id, linked: bool):
        service = next((s for s in self.services if s.id == service_id), None)
        if (
            service is None
            or not isinstance(resource_id, str)
            or resource_id not in {str(r.id) for r in self.resources}
        ):
            return rx.toast.error("Choose a service and a resource from the lists.")
        try:
            await self._run(
                link_resource_service, resource_id=int(resource_id), service_id=service.id, linked=linked
            )
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        name = next(r.name for r in self.resources if str(r.id) == resource_id)
        verb = "now offers" if linked else "no longer offers"
        return rx.toast.success(f"{name} {verb} {service.name}.")

    # ------------------------------------------------------------------ weekly templates

    @rx.event
    @requires("schedule.manage")
    async def set_rules_resource(self, value: str):
        if value not in {str(r.id) for r in self.resources}:
            return rx.toast.error("Choose a resource from the list.")
        self.rules_resource_id = value
        self._clear_errors()
        try:
            await self._reload_rules()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("schedule.manage")
    async def add_rule(self, form: dict):
        if not self.rules_resource_id:
            return rx.toast.error("Choose a resource first.")
        try:
            data = {
                k: form_value(form, k)
                for k in ("weekday", "start_time", "end_time", "valid_from", "valid_to")
            }
        except ValidationError as error:
            self._fail(error)
            return None
        data["resource_id"] = self.rules_resource_id
        try:
            await self._run(add_availability_rule, data=data)
            await self._reload_rules()
        except DomainError as error:
            self._fail(error)
            return None
        self._clear_errors()
        self.rule_form_version += 1
        day = WEEKDAYS[int(data["weekday"])] if data["weekday"].isdigit() and int(data["weekday"]) < 7 else ""
        return rx.toast.success(f"{day} {data['start_time']}–{data['end_time']} added.")

    @rx.event
    @requires("schedule.manage")
    async def delete_rule(self, rule_id: int):
        if rule_id not in {r.id for r in self.rules}:
            return rx.toast.error("Choose a line of the template shown.")
        try:
            await self._run(delete_availability_rule, rule_id=rule_id)
            await self._reload_rules()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success("Template line removed. Booked appointments stay as they are.")

    # ------------------------------------------------------------------ exceptions

    @rx.event
    @requires("schedule.manage")
    async def set_exception_scope(self, value: str):
        if value in ("resource", "department", "hospital"):
            self.exception_scope = value
            self.exception_warning, self._pending_exception = "", {}
            self._clear_errors()

    def _exception_data(self, form) -> dict:
        data = {k: form_value(form, k) for k in ("kind", "reason", "starts_at", "ends_at")}
        # Checked before the warning about booked visits, so the clerk fixes the form first;
        # the service checks everything again when it records.
        for key, message in (
            ("starts_at", "Enter when the time off starts."),
            ("ends_at", "Enter when the time off ends."),
            ("reason", "Enter the reason (3 to 200 characters)."),
        ):
            if len(data[key]) < (3 if key == "reason" else 1):
                raise ValidationError(message, field=key)
        for key in ("starts_at", "ends_at"):
            if len(data[key]) == 10:  # a date alone: from the start of that day / to the end of that day
                try:
                    day = date.fromisoformat(data[key])
                except ValueError:
                    raise ValidationError("Enter a date and time.", field=key) from None
                data[key] = (day + timedelta(days=1 if key == "ends_at" else 0)).isoformat() + "T00:00"
        if self.exception_scope == "resource":
            data["resource_id"] = form_value(form, "resource_id")
            if not data["resource_id"]:
                raise ValidationError("Choose the resource.", field="resource_id")
        elif self.exception_scope == "department":
            data["department_id"] = form_value(form, "department_id")
            if not data["department_id"]:
                raise ValidationError("Choose the department.", field="department_id")
        return data

    @rx.event
    @requires("schedule.manage")
    async def add_exception(self, form: dict):
        try:
            data = self._exception_data(form)
        except ValidationError as error:
            self._fail(error)
            return None
        # Leave over booked visits is allowed, but only once the clerk has seen how many there are.
        if data != self._pending_exception:
            try:
                clashing = await self._run(
                    appointments_during,
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    resource_id=int(data["resource_id"]) if data.get("resource_id", "").isdigit() else None,
                    department_id=int(data["department_id"])
                    if data.get("department_id", "").isdigit()
                    else None,
                )
            except DomainError as error:
                self._fail(error)
                return None
            if clashing:
                self._pending_exception = data
                self.exception_warning = (
                    f"{counted(clashing, 'booked appointment')} {noun(clashing, 'falls', 'fall')} in this time. "
                    f"{noun(clashing, 'It stays', 'They stay')} booked: move or cancel "
                    f"{noun(clashing, 'it', 'them')} from the calendar. Press Add again to record the time off."
                )
                self._clear_errors()
                return None
        try:
            await self._run(add_availability_exception, data=data)
            await self._reload()
        except DomainError as error:
            self._fail(error)
            return None
        self._clear_errors()
        self.exception_warning, self._pending_exception = "", {}
        self.exception_form_version += 1
        return rx.toast.success(f"{data['kind'].title()} recorded.")

    @rx.event
    @requires("schedule.manage")
    async def delete_exception(self, exception_id: int):
        if exception_id not in {e.id for e in self.exceptions}:
            return rx.toast.error("Choose an exception from the list.")
        try:
            await self._run(delete_availability_exception, exception_id=exception_id)
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success("Exception removed: the template applies again.")

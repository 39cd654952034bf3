"""One test of the laboratory catalogue (/lab/catalogue/[test_id], or /lab/catalogue/new to add one):
its form with a message under each wrong field (``save_test``), its reference ranges by sex and age
band with their critical limits (``save_range``, ``delete_range``), and a panel's member tests in
their order (``set_panel_members``).

Seeing it needs ``lab.read`` or ``lab.catalogue`` (checked by ``test_detail``); every change needs
``lab.catalogue``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.services.laboratory import catalogue as svc
from hms_app.services.laboratory.views import RangeRow, TestDetail
from hms_app.state.forms import form_text, value_text
from hms_app.state.laboratory.catalogue import RESULT_TYPE_LABELS
from hms_app.state.laboratory.common import CATALOGUE
from hms_app.state.session import SessionState, browser_id, requires

NEW = "new"
TEST_FIELDS = (
    "code",
    "name",
    "short_name",
    "is_panel",
    "specimen_type",
    "container",
    "result_type",
    "unit",
    "decimals",
    "choices",
    "price_code",
    "duplicate_window_hours",
    "portal_delay_hours",
    "active",
)
CHECKBOXES = ("is_panel", "active")
RANGE_FIELDS = (
    "sex",
    "age_min_days",
    "age_max_days",
    "low",
    "high",
    "critical_low",
    "critical_high",
    "delta_limit",
    "normal_text",
)
SEX_LABELS = {"any": "Any", "male": "Male", "female": "Female"}
MEMBER_OPTIONS = 8
YEAR_DAYS = 365.25


@dataclass(frozen=True)
class TestForm:
    """The test's fields as the form shows them (text, as typed)."""

    __test__ = False

    code: str = ""
    name: str = ""
    short_name: str = ""
    is_panel: bool = False
    specimen_type: str = ""
    container: str = ""
    result_type: str = "numeric"
    unit: str = ""
    decimals: str = "1"
    choices: str = ""
    price_code: str = ""
    duplicate_window_hours: str = "24"
    portal_delay_hours: str = "0"
    active: bool = True


@dataclass(frozen=True)
class RangeLine:
    id: int = 0
    sex: str = "any"
    sex_label: str = "Any"
    ages: str = ""  # "18 y and over", "30 d – 1 y"
    age_min_days: str = "0"
    age_max_days: str = ""
    low: str = ""
    high: str = ""
    normal: str = ""  # "3.5 – 5.1" or the normal result of a coded test
    critical_low: str = ""
    critical_high: str = ""
    delta_limit: str = ""
    normal_text: str = ""


@dataclass(frozen=True)
class Member:
    id: int = 0
    code: str = ""
    name: str = ""
    detail: str = ""  # "Serum · Gold SST"


def age_label(days: int) -> str:
    """Days of age as people say them: "30 d", "1 y", "18 y" (whole years only when they are)."""
    years = days / YEAR_DAYS
    if days >= 365 and abs(years - round(years)) * YEAR_DAYS < 2:
        return f"{round(years)} y"
    return f"{days} d"


def ages_label(low: int, high: int | None) -> str:
    if high is None:
        return "all ages" if low == 0 else f"{age_label(low)} and over"
    if low == 0:
        return f"under {age_label(high)}"
    return f"{age_label(low)} – under {age_label(high)}"


def plain(number: str) -> str:
    """A stored limit as a person writes it: "7.0000" is 7, "3.5000" is 3.5."""
    if "." not in number:
        return number
    return number.rstrip("0").rstrip(".") or "0"


def range_line(row: RangeRow) -> RangeLine:
    low, high = plain(row.low), plain(row.high)
    normal = f"{low or '…'} – {high or '…'}" if low or high else row.normal_text
    return RangeLine(
        id=row.id,
        sex=row.sex,
        sex_label=SEX_LABELS.get(row.sex, row.sex),
        ages=ages_label(row.age_min_days, row.age_max_days),
        age_min_days=str(row.age_min_days),
        age_max_days="" if row.age_max_days is None else str(row.age_max_days),
        low=low,
        high=high,
        normal=normal,
        critical_low=plain(row.critical_low),
        critical_high=plain(row.critical_high),
        delta_limit=plain(row.delta_limit),
        normal_text=row.normal_text,
    )


def _form(detail: TestDetail) -> TestForm:
    test = detail.test
    return TestForm(
        code=test.code,
        name=test.name,
        short_name=test.short_name,
        is_panel=test.is_panel,
        specimen_type=test.specimen_type,
        container=test.container,
        result_type=test.result_type,
        unit=test.unit,
        decimals=str(detail.decimals),
        choices=detail.choices,
        price_code=test.price_code,
        duplicate_window_hours=str(detail.duplicate_window_hours),
        portal_delay_hours=str(detail.portal_delay_hours),
        active=test.active,
    )


def _test_id_in(path: str) -> int | None:
    """The test the address names: None for /lab/catalogue/new; refused when it names nothing."""
    match = re.match(r"^/lab/catalogue/([^/?#]*)", path or "")
    raw = match.group(1) if match else ""
    if raw == NEW:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) <= 0:
        raise ValidationError("This address does not name a laboratory test. Open it from the catalogue.")
    return int(raw)


class LabTestState(SessionState):
    """The test on screen, its form's messages, its ranges with the range dialog, and its members."""

    test_id: int = 0  # 0: a new test
    loaded: bool = False
    problem: str = ""  # the address names no test the user may see
    can_edit: bool = False
    title: str = ""
    form: TestForm = TestForm()
    kind: str = "numeric"  # the result type chosen in the form: which fields it shows
    panel: bool = False  # the form's "panel" box (which fields it shows)
    saved_panel: bool = False  # the test as saved is a panel: members, not ranges
    form_version: int = 0  # bumped when the form is filled from the server: its inputs re-read
    field_errors: dict[str, str] = {}
    form_error: str = ""
    saving: bool = False
    ranges: list[RangeLine] = []
    # The range dialog.
    range_open: bool = False
    editing_range: RangeLine = RangeLine()
    range_errors: dict[str, str] = {}
    range_error: str = ""
    # A panel's members, as edited (saved together).
    members: list[Member] = []
    members_changed: bool = False
    member_query: str = ""
    member_options: list[Member] = []

    def _show_detail(self, detail: TestDetail) -> None:
        self.test_id = detail.test.id
        self.form = _form(detail)
        self.kind, self.panel = detail.test.result_type, detail.test.is_panel
        self.saved_panel = detail.test.is_panel
        self.title = f"{detail.test.code} · {detail.test.name}"
        self.ranges = [range_line(row) for row in detail.ranges]
        self.members = [
            Member(m.id, m.code, m.name, f"{m.specimen_type} · {m.container}") for m in detail.members
        ]
        self.members_changed, self.member_query, self.member_options = False, "", []
        self.form_version += 1

    async def _reload(self) -> None:
        detail = await self._read(svc.test_detail, test_id=self.test_id)
        self._show_detail(detail)

    @rx.event
    @requires()  # test_detail needs lab.read or lab.catalogue: it refuses anyone else
    async def load(self):
        self.loaded, self.problem, self.range_open = False, "", False
        self.field_errors, self.form_error, self.saving = {}, "", False
        self.can_edit = self.acting().can(CATALOGUE)
        try:
            wanted = _test_id_in(self.router.url.path if self.router else "")
            if wanted is None:
                if not self.can_edit:
                    raise ValidationError("Your role does not allow adding laboratory tests.")
                self.test_id, self.form, self.kind, self.panel = 0, TestForm(), "numeric", False
                self.saved_panel = False
                self.title, self.ranges, self.members = "New laboratory test", [], []
                self.members_changed, self.member_query, self.member_options = False, "", []
                self.form_version += 1
            else:
                self.test_id = wanted
                await self._reload()
        except DomainError as error:
            self.problem = str(error)
        self.loaded = True

    @rx.event
    @requires(CATALOGUE)
    async def set_kind(self, kind: str):
        if isinstance(kind, str) and kind in RESULT_TYPE_LABELS:
            self.kind = kind

    @rx.event
    @requires(CATALOGUE)
    async def set_panel(self, value: bool):
        self.panel = value is True

    @rx.event
    @requires(CATALOGUE)
    async def save(self, form: dict):
        if self.saving:
            return
        self.saving, self.field_errors, self.form_error = True, {}, ""
        yield
        try:
            data = {key: form_text(form, key, limit=300) for key in TEST_FIELDS if key not in CHECKBOXES}
            # An unticked box is not in a form's data: say "false" rather than leave the service a default.
            for key in CHECKBOXES:
                data[key] = "true" if form_text(form, key, limit=10) == "on" else "false"
            saved_id = await self._run(svc.save_test, test_id=self.test_id or None, form=data)
        except DomainError as error:
            shown = field_messages(error, TEST_FIELDS)
            self.form_error = shown.pop("", "")
            self.field_errors = shown
            self.saving = False
            yield rx.toast.error("The test was not saved: see the messages on the form.")
            return
        self.saving = False
        if not self.test_id:
            yield rx.toast.success(f"{data['code']} {data['name'].strip()} added to the catalogue.")
            yield rx.redirect(f"/lab/catalogue/{saved_id}")
            return
        try:
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
            return
        yield rx.toast.success(f"{self.form.code} {self.form.name} saved.")

    # ------------------------------------------------------------------ reference ranges

    def _range_dialog(self, line: RangeLine, is_open: bool) -> None:
        self.editing_range, self.range_open = line, is_open
        self.range_errors, self.range_error = {}, ""

    @rx.event
    @requires(CATALOGUE)
    async def new_range(self):
        if not self.test_id or self.saved_panel:
            return rx.toast.error("Save the test first; a panel has no ranges of its own.")
        self._range_dialog(RangeLine(), True)
        return None

    @rx.event
    @requires(CATALOGUE)
    async def edit_range(self, range_id: int):
        try:
            wanted = browser_id(range_id, "range")
        except ValidationError as error:
            return rx.toast.error(str(error))
        line = next((r for r in self.ranges if r.id == wanted), None)
        if line is None:
            return rx.toast.error("Choose a range shown for the test.")
        self._range_dialog(line, True)
        return None

    @rx.event
    @requires(CATALOGUE)
    async def on_range_dialog(self, is_open: bool):
        if not is_open:
            self._range_dialog(RangeLine(), False)

    @rx.event
    @requires(CATALOGUE)
    async def save_range(self, form: dict):
        if not self.test_id:
            return None
        try:
            data = {key: form_text(form, key, limit=60) for key in RANGE_FIELDS}
            await self._run(
                svc.save_range, test_id=self.test_id, range_id=self.editing_range.id or None, form=data
            )
            await self._reload()
        except DomainError as error:
            shown = field_messages(error, RANGE_FIELDS)
            self.range_error = shown.pop("", "")
            self.range_errors = shown
            return None
        self._range_dialog(RangeLine(), False)
        return rx.toast.success(f"Reference range of {self.form.code} saved.")

    @rx.event
    @requires(CATALOGUE)
    async def delete_range(self, range_id: int):
        try:
            wanted = browser_id(range_id, "range")
            line = next((r for r in self.ranges if r.id == wanted), None)
            if line is None:
                raise ValidationError("Choose a range shown for the test.")
            await self._run(svc.delete_range, range_id=wanted)
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success(f"The {line.sex_label.lower()} range for {line.ages} is removed.")

    # ------------------------------------------------------------------ panel members

    @rx.event
    @requires(CATALOGUE)
    async def search_members(self, query: str):
        try:
            text = " ".join(value_text(query, "member_query", limit=60, label="search").split())
        except ValidationError as error:
            return rx.toast.error(str(error))
        self.member_query = text
        if len(text) < 2:
            self.member_options = []
            return None
        try:
            answer = await self._read(svc.list_tests, query=text, page_size=MEMBER_OPTIONS * 2)
        except DomainError as error:
            return rx.toast.error(str(error))
        chosen = {m.id for m in self.members}
        self.member_options = [
            Member(r.id, r.code, r.name, f"{r.specimen_type} · {r.container}")
            for r in answer.rows
            if not r.is_panel and r.id not in chosen and r.id != self.test_id
        ][:MEMBER_OPTIONS]
        return None

    @rx.event
    @requires(CATALOGUE)
    async def add_member(self, test_id: int):
        try:
            wanted = browser_id(test_id, "test")
        except ValidationError as error:
            return rx.toast.error(str(error))
        option = next((m for m in self.member_options if m.id == wanted), None)
        if option is None:
            return rx.toast.error("Choose a test from the search results.")
        self.members = [*self.members, option]
        self.member_options = [m for m in self.member_options if m.id != wanted]
        self.members_changed = True
        return None

    @rx.event
    @requires(CATALOGUE)
    async def remove_member(self, test_id: int):
        self.members = [m for m in self.members if m.id != test_id]
        self.members_changed = True

    @rx.event
    @requires(CATALOGUE)
    async def move_member(self, test_id: int, step: int):
        index = next((n for n, m in enumerate(self.members) if m.id == test_id), None)
        if index is None or step not in (-1, 1) or not 0 <= index + step < len(self.members):
            return
        members = list(self.members)
        members[index], members[index + step] = members[index + step], members[index]
        self.members, self.members_changed = members, True

    @rx.event
    @requires(CATALOGUE)
    async def save_members(self):
        if not self.test_id or not self.saved_panel:
            return rx.toast.error("Save the panel first.")
        try:
            await self._run(
                svc.set_panel_members, panel_id=self.test_id, test_ids=[m.id for m in self.members]
            )
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success(f"{self.form.code} {self.form.name} holds {len(self.members)} tests.")

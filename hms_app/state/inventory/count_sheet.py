"""One count sheet (/inventory/counts/[count_id]): its lines a page at a time with the frozen book,
the moves since the snapshot, the counted quantity (typed in, saved as the counter leaves the
field) and the variance; lots found that were not on the book; submitting; and the review by a
second person: approve (posts the variances), send back for a recount, or cancel."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory import count_views, counts
from hms_app.state.inventory.purchase_common import (
    ItemOption,
    Option,
    PurchaseDialogs,
    day,
    moment,
    money,
    route_id,
    search_items,
    text,
)
from hms_app.state.session import SessionState, browser_id, pages_for, requires, turn_page

PAGE_SIZE = 50
SHOW_FILTERS = [Option(key, label) for key, label in count_views.SHEET_FILTERS.items()]
FOUND_FIELDS = ("item_id", "lot_number", "expiry_date", "counted")


@dataclass
class SheetRow:
    id: int = 0
    bin: str = ""
    code: str = ""
    name: str = ""
    unit: str = ""
    lot: str = ""
    expiry: str = ""
    book: str = ""
    moved: str = ""
    counted: str = ""
    is_counted: bool = False
    variance: str = ""
    variance_n: int = 0
    value: str = ""
    counted_by: str = ""


def _signed(number: int) -> str:
    return f"{number:+,}" if number else "0"


def _row(line: count_views.SheetLine) -> SheetRow:
    return SheetRow(
        line.id,
        line.bin,
        line.code,
        line.name,
        line.base_unit,
        "" if line.lot_number == "-" else line.lot_number,
        day(line.expiry_date),
        f"{line.book:,}",
        _signed(line.moved_since),
        "" if line.counted is None else str(line.counted),
        line.counted is not None,
        "" if line.variance is None else _signed(line.variance),
        line.variance or 0,
        ""
        if not line.variance_cents
        else ("−" if line.variance_cents < 0 else "+") + money(abs(line.variance_cents)),
        line.counted_by,
    )


class CountSheetState(PurchaseDialogs, SessionState):
    problem: str = ""
    loaded: bool = False
    count_id: int = 0
    reference: str = ""
    store: str = ""
    kind: str = ""
    kind_label: str = ""
    status: str = ""
    status_label: str = ""
    started: str = ""
    started_by: str = ""
    submitted: str = ""
    submitted_by: str = ""
    approved: str = ""
    approved_by: str = ""
    counters: list[str] = []
    lines: int = 0
    counted: int = 0
    variances: int = 0
    net_value: str = ""
    net_negative: bool = False
    show: str = "all"
    shown: int = 0
    page: int = 1
    rows: list[SheetRow] = []
    line_errors: dict[str, str] = {}  # line id -> what is wrong with the typed count
    me: str = ""

    found_item_id: int = 0
    found_item: str = ""
    found_tracked: bool = True
    item_options: list[ItemOption] = []

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.shown, PAGE_SIZE)

    @rx.var
    def counted_by_me(self) -> bool:
        """The signed-in user counted or submitted this sheet: a second person must approve it."""
        return self.me != "" and (self.me in self.counters or self.me == self.submitted_by)

    async def _reload(self) -> None:
        sheet = await self._read(
            count_views.count_sheet,
            count_id=self.count_id,
            show=self.show,
            offset=(self.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        self.reference, self.store, self.kind, self.status = (
            sheet.reference,
            sheet.location,
            sheet.kind,
            sheet.status,
        )
        self.kind_label = counts.COUNT_KINDS.get(sheet.kind, sheet.kind)
        self.status_label = counts.COUNT_STATUS_LABELS.get(sheet.status, sheet.status)
        self.started, self.started_by = moment(sheet.started_at), sheet.started_by
        self.submitted, self.submitted_by = moment(sheet.submitted_at), sheet.submitted_by
        self.approved, self.approved_by = moment(sheet.approved_at), sheet.approved_by
        self.counters = list(sheet.counters)
        self.lines, self.counted, self.variances = sheet.lines, sheet.counted, sheet.variances
        self.net_value = ("−" if sheet.variance_cents < 0 else "") + money(abs(sheet.variance_cents))
        self.net_negative = sheet.variance_cents < 0
        self.shown, self.rows = sheet.shown, [_row(line) for line in sheet.page]

    async def _reload_or_toast(self):
        try:
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("inventory.read")
    async def load(self):
        self.loaded, self.problem, self.dialog, self.line_errors = False, "", "", {}
        self.me, self.show, self.page = self.acting().username, "all", 1
        try:
            self.count_id = route_id(self.router.url.path, r"^/inventory/counts/([^/?#]*)", "a stock count")
            await self._reload()
        except DomainError as error:
            self.problem = str(error)
            return
        self.loaded = True

    @rx.event
    @requires("inventory.read")
    async def set_show(self, value: str):
        if value not in count_views.SHEET_FILTERS:
            return rx.toast.error("Choose which lines to show from the list.")
        self.show, self.page = value, 1
        return await self._reload_or_toast()

    @rx.event
    @requires("inventory.read")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload_or_toast)

    @rx.event
    @requires("inventory.keep")
    async def save_line(self, line_id: int, value: str):
        """Record one line's count as the counter leaves its field (nothing when it is unchanged)."""
        try:
            wanted = browser_id(line_id, "line")
        except DomainError as error:
            return rx.toast.error(str(error))
        row = next((r for r in self.rows if r.id == wanted), None)
        typed = value.strip() if isinstance(value, str) else ""
        if row is None or typed == "" or typed == row.counted or self.status != "counting":
            return None
        key = str(wanted)
        try:
            await self._run(
                counts.enter_counts, count_id=self.count_id, counts=[{"line_id": wanted, "counted": typed}]
            )
        except DomainError as error:
            self.line_errors = {**self.line_errors, key: str(error)}
            return None
        self.line_errors = {k: v for k, v in self.line_errors.items() if k != key}
        return await self._reload_or_toast()

    # ------------------------------------------------------------------ dialogs

    async def _done(self, message: str):
        self.dialog, self.saving = "", False
        problem = await self._reload_or_toast()
        return [rx.toast.success(message), problem] if problem else rx.toast.success(message)

    @rx.event
    @requires("inventory.read")
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self._open("")

    @rx.event
    @requires("inventory.read")
    async def close_dialog(self):
        self._open("")

    @rx.event
    @requires("inventory.keep")
    async def open_found(self):
        self._open("found")
        self.found_item_id, self.found_item, self.found_tracked, self.item_options = 0, "", True, []

    @rx.event
    @requires("inventory.keep")
    async def search_item(self, value: str):
        try:
            self.item_options = await search_items(self, value)
        except DomainError as error:
            self.field_errors = {"item_id": str(error)}

    @rx.event
    @requires("inventory.keep")
    async def choose_item(self, item_id: int):
        option = next((o for o in self.item_options if o.id == item_id), None)
        if option is None:
            return rx.toast.error("Choose an item from the list.")
        self.found_item_id, self.found_item, self.found_tracked = option.id, option.name, option.tracked
        self.item_options = []
        self.field_errors = {k: v for k, v in self.field_errors.items() if k != "item_id"}
        return None

    @rx.event
    @requires("inventory.keep")
    async def clear_item(self):
        self.found_item_id, self.found_item = 0, ""

    @rx.event
    @requires("inventory.keep")
    async def submit_found(self, form: dict):
        try:
            if not self.found_item_id:
                raise ValidationError("Search for the item and choose it.", field="item_id")
            values = {
                "counted": text(form, "counted", 12),
                "lot_number": text(form, "lot_number", 40),
                "expiry_date": text(form, "expiry_date", 10),
            }
        except ValidationError as error:
            self._fail(error, FOUND_FIELDS)
            return
        self.saving = True
        yield
        try:
            await self._run(
                counts.add_found_lot, count_id=self.count_id, item_id=self.found_item_id, **values
            )
        except DomainError as error:
            self._fail(error, FOUND_FIELDS)
            return
        yield await self._done(f"{self.found_item} added to the sheet.")

    @rx.event
    @requires("inventory.keep")
    async def open_submit(self):
        self._open("submit")

    @rx.event
    @requires("inventory.keep")
    async def confirm_submit(self):
        self.saving = True
        yield
        try:
            await self._run(counts.submit_count, count_id=self.count_id)
        except DomainError as error:
            self._fail(error, ())
            return
        yield await self._done(f"{self.reference} submitted: a second person reviews and approves it.")

    @rx.event
    @requires("inventory.approve")
    async def open_approve(self):
        self._open("approve")

    @rx.event
    @requires("inventory.approve")
    async def confirm_approve(self):
        self.saving = True
        yield
        try:
            await self._run(counts.approve_count, count_id=self.count_id)
        except DomainError as error:
            self._fail(error, ())
            return
        yield await self._done(
            f"{self.reference} approved: {self.variances} variance(s) posted to the stock."
        )

    @rx.event
    @requires("inventory.approve")
    async def open_return(self):
        self._open("return")

    @rx.event
    @requires("inventory.approve")
    async def submit_return(self, form: dict):
        async for update in self._with_reason(
            form, counts.return_count, f"{self.reference} sent back for a recount.", count_id=self.count_id
        ):
            yield update

    @rx.event
    @requires("inventory.read")
    async def open_cancel(self):
        self._open("cancel")

    @rx.event
    @requires("inventory.read")
    async def submit_cancel(self, form: dict):
        # inventory.keep at the store or inventory.approve: the service decides which applies.
        async for update in self._with_reason(
            form,
            counts.cancel_count,
            f"{self.reference} cancelled: nothing was posted.",
            count_id=self.count_id,
        ):
            yield update

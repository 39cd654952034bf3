"""The patient screens: search (/patients), registration with live duplicate detection
(/patients/new), demographics with history, status and merge (/patients/[patient_id]/details)
and the printable wristband (/patients/[patient_id]/wristband)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import reflex as rx

from hms_app.clock import format_local, to_local, utcnow
from hms_app.errors import DomainError, NotFound, ValidationError
from hms_app.services import patients as svc
from hms_app.services.patient_keys import fold, phone_digits
from hms_app.services.permissions import Actor
from hms_app.state.session import SessionState, browser_id, call_service, pages_for, requires

PAGE_SIZE = 20
MIN_QUERY = 2
MAX_QUERY = 100
FORM_LIMIT = 300  # any one form value longer than this is refused before a service runs
WATCHED = ("given_name", "family_name", "birth_date", "phone")  # what duplicate detection looks at
TEXT_FIELDS = tuple(k for k in svc.DEMOGRAPHIC_FIELDS if k not in svc.BOOLEAN_FIELDS)
STATUSES = ("active", "inactive", "deceased")
DIALOG_FIELDS = ("other_mrn", "reason", "deceased_on")  # the fields of the details page's dialogs
LABELS = {
    "given_name": "Given name",
    "middle_name": "Middle name",
    "family_name": "Family name",
    "sex": "Sex",
    "birth_date": "Date of birth",
    "phone": "Phone",
    "email": "Email",
    "address_line": "Address",
    "city": "City",
    "postal_code": "Postal code",
    "country": "Country",
    "preferred_language": "Preferred language",
    "emergency_contact_name": "Emergency contact",
    "emergency_contact_phone": "Emergency contact phone",
    "emergency_contact_relation": "Relationship",
    "consent_data_sharing": "Consent: data sharing",
    "consent_sms": "Consent: SMS",
    "consent_research": "Consent: research",
    "status": "Status",
    "merged_into": "Merged into",
}


def _today() -> date:
    return to_local(utcnow()).date()


def _status(active: bool, deceased: bool) -> str:
    return "deceased" if deceased else ("active" if active else "inactive")


def _form_text(form: dict, key: str, limit: int = FORM_LIMIT) -> str:
    """One value of a submitted form as text; anything else a browser might send is refused."""
    value = form.get(key, "")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if not isinstance(value, str):
        raise ValidationError("This value could not be read; type it again.", field=key)
    if len(value) > limit:
        raise ValidationError(f"Keep this under {limit} characters.", field=key)
    return value


def _demographics(form: dict) -> dict:
    """The demographic fields of a submitted form, for ``validate_demographics`` to judge."""
    data: dict = {key: _form_text(form, key) for key in TEXT_FIELDS}
    for key in svc.BOOLEAN_FIELDS:
        data[key] = _form_text(form, key).strip().lower() in ("on", "true", "1", "yes")
    return data


PHOTO_UPLOAD_ID = "patient-photo"
PHOTO_MAX_BYTES = 5 * 1024 * 1024

ROUTE_RE = re.compile(r"^/patients/([^/?#]*)")


def route_patient_id(path: str) -> int:
    """The patient id in an address like /patients/42/details, or a message saying what is wrong."""
    match = ROUTE_RE.match(path or "")
    raw = match.group(1) if match else ""
    if not raw.isdigit() or len(raw) > 12 or int(raw) <= 0:
        shown = raw[:20] or "nothing"
        raise ValidationError(
            f"This address does not name a patient record: {shown!r} is not a record number. "
            "Find the patient from the patient search."
        )
    return int(raw)


# ====================================================================== search


@dataclass
class PatientLine:
    id: int = 0
    mrn: str = ""
    name: str = ""
    sex: str = ""
    birth_date: str = ""
    age: int = 0
    phone: str = ""
    status: str = "active"  # active | inactive | deceased


def _line(row: svc.PatientRow, today: date) -> PatientLine:
    return PatientLine(
        row.id,
        row.mrn,
        row.name,
        row.sex,
        row.birth_date.isoformat(),
        svc.age_years(row.birth_date, today),
        row.phone,
        _status(row.active, row.deceased),
    )


class PatientSearchState(SessionState):
    """One page of patients matching what the clerk typed."""

    query: str = ""
    page: int = 1
    total: int = 0
    rows: list[PatientLine] = []
    searched: bool = False  # the rows answer a query of at least MIN_QUERY characters
    loading: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    @rx.var
    def total_label(self) -> str:
        # The service stops counting at the cap: more would cost more than the page itself.
        return f"{svc.COUNT_CAP}+" if self.total >= svc.COUNT_CAP else str(self.total)

    def _clear(self) -> None:
        self.rows, self.total, self.page, self.searched, self.loading = [], 0, 1, False, False

    async def _reload(self):
        text = self.query.strip()
        if len(text) < MIN_QUERY:
            self._clear()
            return None
        try:
            rows, total = await self._run(
                svc.search_patients, query=text, page=self.page, page_size=PAGE_SIZE
            )
            pages = pages_for(total, PAGE_SIZE)
            if self.page > pages:  # the last page emptied since it was shown
                self.page = pages
                rows, total = await self._run(
                    svc.search_patients, query=text, page=self.page, page_size=PAGE_SIZE
                )
        except DomainError as error:
            self.loading = False
            return rx.toast.error(str(error))
        today = _today()
        self.rows, self.total = [_line(r, today) for r in rows], total
        self.searched, self.loading = True, False
        return None

    @rx.event
    @requires("patient.read")
    async def load(self):
        # Coming back to the list shows the last search again, fresh from the database.
        return await self._reload()

    @rx.event
    @requires("patient.read")
    async def set_query(self, value: str):
        if not isinstance(value, str):
            return rx.toast.error("Type a name, MRN, phone number or date of birth.")
        if len(value) > MAX_QUERY:
            return rx.toast.error(f"Search for at most {MAX_QUERY} characters.")
        self.query, self.page = value, 1
        return await self._reload()

    @rx.event
    @requires("patient.read")
    async def clear_search(self):
        self.query = ""
        self._clear()

    @rx.event
    @requires("patient.read")
    async def next_page(self):
        if self.page < self.page_count:
            self.page += 1
            return await self._reload()
        return None

    @rx.event
    @requires("patient.read")
    async def prev_page(self):
        if self.page > 1:
            self.page -= 1
            return await self._reload()
        return None


# ====================================================================== registration


@dataclass
class MatchLine:
    id: int = 0
    mrn: str = ""
    name: str = ""
    birth_date: str = ""
    phone: str = ""
    score: int = 0  # percent
    reasons: str = ""


def _match(candidate: svc.DuplicateCandidate) -> MatchLine:
    return MatchLine(
        candidate.id,
        candidate.mrn,
        candidate.name,
        candidate.birth_date.isoformat(),
        candidate.phone,
        round(candidate.score * 100),
        "; ".join(candidate.reasons),
    )


class PatientRegisterState(SessionState):
    """The registration form, the possible matches beside it and the duplicate confirmation."""

    # The fields duplicate detection watches, bound to debounced inputs as the clerk types.
    given_name: str = ""
    family_name: str = ""
    birth_date: str = ""
    phone: str = ""
    matches: list[MatchLine] = []

    error_field: str = ""
    error_text: str = ""
    saving: bool = False
    form_version: int = 0  # bumped to give the next registration an empty form

    confirm_open: bool = False
    confirm_matches: list[MatchLine] = []
    confirm_error: str = ""

    # The validated-by-the-service form waiting for the clerk's reason; never sent to the browser.
    _pending: dict = {}

    def _fresh(self) -> None:
        self.given_name = self.family_name = self.birth_date = self.phone = ""
        self.matches, self.saving = [], False
        self.error_field = self.error_text = self.confirm_error = ""
        self.confirm_open, self.confirm_matches, self._pending = False, [], {}
        self.form_version += 1

    @rx.event
    @requires("patient.write")
    async def load(self):
        self._fresh()

    async def _check(self):
        """Look for records of the person being typed, once there is enough to go on."""
        if len(fold(self.family_name)) < 2 and not phone_digits(self.phone):
            self.matches = []
            return None
        try:
            found = await self._run(
                svc.find_duplicates,
                given_name=self.given_name,
                family_name=self.family_name,
                birth_date=self.birth_date or None,
                phone=self.phone or None,
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        self.matches = [_match(c) for c in found]
        return None

    @rx.event
    @requires("patient.write")
    async def set_watched(self, name: str, value: str):
        if name not in WATCHED or not isinstance(value, str) or len(value) > MAX_QUERY:
            return rx.toast.error("This value could not be read; type it again.")
        setattr(self, name, value)
        if self.error_field == name:
            self.error_field, self.error_text = "", ""
        return await self._check()

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        self.error_text = str(error)
        self.error_field = error.field if error.field in svc.DEMOGRAPHIC_FIELDS else ""

    def _registered(self, patient):
        name = f"{patient.given_name} {patient.family_name}"
        self._fresh()
        return [
            rx.toast.success(f"{name} registered with MRN {patient.mrn}.", id="registered"),
            rx.redirect(f"/patients/{patient.id}"),
        ]

    @rx.event
    @requires("patient.write")
    async def submit(self, form: dict):
        try:
            data = _demographics(form if isinstance(form, dict) else {})
        except ValidationError as error:
            self._fail(error)
            return
        self.saving, self.error_field, self.error_text = True, "", ""
        yield
        try:
            patient = await self._run(svc.register_patient, data=data)
        except svc.DuplicateSuspected as suspected:
            # Nothing was saved: ask the clerk, with the likely matches in front of them.
            self._pending = data
            self.confirm_matches = [_match(c) for c in suspected.candidates]
            self.confirm_error, self.confirm_open, self.saving = "", True, False
            return
        except DomainError as error:
            self._fail(error)
            return
        yield self._registered(patient)

    @rx.event
    @requires("patient.write")
    async def confirm_duplicate(self, form: dict):
        try:
            reason = _form_text(form if isinstance(form, dict) else {}, "reason").strip()
        except ValidationError as error:
            self.confirm_error = str(error)
            return
        if not self._pending:
            self.confirm_open = False
            return
        if len(reason) < 5:
            self.confirm_error = "Say why this is a different person (at least 5 characters)."
            return
        self.saving, self.confirm_error = True, ""
        yield
        try:
            patient = await self._run(svc.register_patient, data=dict(self._pending), duplicate_reason=reason)
        except DomainError as error:
            self.saving = False
            if error.field in svc.DEMOGRAPHIC_FIELDS:  # the form must change first: back to it
                self.confirm_open, self._pending = False, {}
                self._fail(error)
            else:
                self.confirm_error = str(error)
            return
        yield self._registered(patient)

    @rx.event
    @requires("patient.write")
    async def cancel_confirm(self):
        self.confirm_open, self.confirm_error, self._pending, self.saving = False, "", {}, False

    @rx.event
    @requires("patient.write")
    async def on_confirm_change(self, is_open: bool):
        if not is_open:
            self.confirm_open, self.confirm_error, self._pending, self.saving = False, "", {}, False


# ====================================================================== demographics, history, merge


@dataclass
class HistoryLine:
    when: str = ""
    who: str = ""
    field: str = ""
    old: str = ""
    new: str = ""
    reason: str = ""


@dataclass
class MergeLine:
    id: int = 0
    role: str = ""  # survivor: another record was merged into this one; merged: this one went into another
    other_id: int = 0
    other_mrn: str = ""
    other_name: str = ""
    reason: str = ""
    when: str = ""
    who: str = ""
    undone: bool = False
    undone_note: str = ""
    moved_rows: int = 0
    moved_note: str = ""


@dataclass
class OtherRecord:
    id: int = 0
    mrn: str = ""
    name: str = ""
    sex: str = ""
    birth_date: str = ""
    phone: str = ""
    status: str = ""


@dataclass
class Details:
    patient: object
    history: list = field(default_factory=list)
    merges: list = field(default_factory=list)


def _load_details(session, *, actor: Actor, patient_id: int) -> Details:
    """The record, its change history and its merges, read (and audited) in one go."""
    patient = svc.get_patient(session, actor=actor, patient_id=patient_id)
    return Details(
        patient,
        svc.patient_history(session, actor=actor, patient_id=patient_id),
        svc.list_merges(session, actor=actor, patient_id=patient_id),
    )


def _history_line(row: svc.HistoryRow) -> HistoryLine:
    return HistoryLine(
        format_local(row.changed_at),
        row.changed_by,
        LABELS.get(row.field, row.field),
        row.old_value,
        row.new_value,
        row.reason,
    )


def _merge_line(row: svc.MergeRow, patient_id: int) -> MergeLine:
    survivor = row.survivor_id == patient_id
    undone = f"undone {format_local(row.undone_at)} by {row.undone_by}" if row.undone_at else ""
    return MergeLine(
        row.id,
        "survivor" if survivor else "merged",
        row.merged_id if survivor else row.survivor_id,
        row.merged_mrn if survivor else row.survivor_mrn,
        row.merged_name if survivor else row.survivor_name,
        row.reason,
        format_local(row.merged_at),
        row.merged_by,
        row.undone_at is not None,
        undone,
        row.moved_rows,
        f"{row.moved_rows} linked row{'s' if row.moved_rows != 1 else ''} moved",
    )


class PatientDetailsState(SessionState):
    """One patient's demographics form, change history, status and merges."""

    record_id: int = 0
    problem: str = ""  # shown instead of the page: a bad address or a record that does not exist
    loaded: bool = False
    mrn: str = ""
    name: str = ""
    sex: str = ""
    birth_date: str = ""
    age: int = 0
    status: str = "active"  # active | inactive | deceased | merged
    deceased_on: str = ""
    merged_into_id: int = 0
    merged_into_mrn: str = ""
    form_values: dict[str, str] = {}
    consents: dict[str, bool] = {}
    form_version: int = 0
    error_field: str = ""
    error_text: str = ""
    saving: bool = False
    history: list[HistoryLine] = []
    merges: list[MergeLine] = []
    photo_id: int = 0
    uploading_photo: bool = False

    dialog: str = ""  # "" | status | merge | undo
    status_choice: str = "inactive"
    dialog_error: str = ""
    dialog_error_field: str = ""
    other: OtherRecord = OtherRecord()
    undo_note: str = ""

    # What the open dialog acts on, kept on the server: the browser only names rows it was shown.
    _other_id: int = 0
    _undo_id: int = 0

    async def _reload(self):
        try:
            details = await call_service(_load_details, actor=self.acting(), patient_id=self.record_id)
        except NotFound as error:
            self.problem, self.loaded = str(error), False
            return None
        except DomainError as error:
            return rx.toast.error(str(error))
        p = details.patient
        self.mrn, self.sex = p.mrn, p.sex
        self.name = svc.full_name(p)
        self.birth_date, self.age = p.birth_date.isoformat(), svc.age_years(p.birth_date, _today())
        self.status = "merged" if p.merged_into_id else _status(p.active, p.deceased_at is not None)
        self.deceased_on = format_local(p.deceased_at, "%Y-%m-%d")
        self.form_values = {k: ("" if getattr(p, k) is None else str(getattr(p, k))) for k in TEXT_FIELDS}
        self.consents = {k: bool(getattr(p, k)) for k in svc.BOOLEAN_FIELDS}
        self.history = [_history_line(h) for h in details.history]
        self.merges = [_merge_line(m, p.id) for m in details.merges]
        self.merged_into_id = p.merged_into_id or 0
        self.photo_id = int(p.photo_key) if (p.photo_key or "").isdigit() else 0
        survivor = next((m for m in self.merges if m.role == "merged" and not m.undone), None)
        self.merged_into_mrn = survivor.other_mrn if survivor else ""
        self.form_version += 1
        self.problem, self.loaded = "", True
        return None

    def _close(self) -> None:
        self.dialog, self.dialog_error, self.dialog_error_field = "", "", ""
        self._other_id, self._undo_id, self.other, self.undo_note = 0, 0, OtherRecord(), ""

    @rx.event
    @requires("patient.read")
    async def load(self):
        self._close()
        self.error_field = self.error_text = ""
        self.saving, self.loaded = False, False
        try:
            self.record_id = route_patient_id(self.router.url.path)
        except ValidationError as error:
            self.record_id, self.problem = 0, str(error)
            return None
        return await self._reload()

    @rx.event
    @requires("patient.write")
    async def upload_photo(self, files: list[rx.UploadFile]):
        if not self.record_id or not files:
            yield rx.toast.error("Choose a PNG or JPEG photo first.")
            return
        upload = files[0]
        if upload.size is not None and upload.size > PHOTO_MAX_BYTES:
            yield rx.toast.error("The photo is larger than 5 MB.")
            return
        name = (upload.filename or "").lower()
        content_type = "image/png" if name.endswith(".png") else "image/jpeg"
        self.uploading_photo = True
        yield
        content = await upload.read(PHOTO_MAX_BYTES + 1)
        try:
            if len(content) > PHOTO_MAX_BYTES:
                raise ValidationError("The photo is larger than 5 MB.")
            # The bytes go to the service, which keeps them outside the public upload folder.
            self.photo_id = await self._run(
                svc.set_patient_photo, patient_id=self.record_id, content=content, content_type=content_type
            )
        except DomainError as error:
            self.uploading_photo = False
            yield rx.toast.error(str(error))
            return
        self.uploading_photo = False
        yield [rx.clear_selected_files(PHOTO_UPLOAD_ID), rx.toast.success("Photo saved.")]

    # ------------------------------------------------------------------ demographics

    @rx.event
    @requires("patient.write")
    async def save(self, form: dict):
        if not self.record_id:
            return None
        form = form if isinstance(form, dict) else {}
        try:
            data = _demographics(form)
            reason = _form_text(form, "change_reason").strip()
        except ValidationError as error:
            self.error_field, self.error_text = error.field or "", str(error)
            return None
        newest = self.history[0] if self.history else None
        self.saving, self.error_field, self.error_text = True, "", ""
        try:
            await self._run(svc.update_patient, patient_id=self.record_id, data=data, reason=reason or None)
        except DomainError as error:
            self.saving = False
            self.error_text = str(error)
            self.error_field = error.field if error.field in svc.DEMOGRAPHIC_FIELDS else ""
            return None
        self.saving = False
        problem = await self._reload()
        if problem:
            return problem
        # History is newest first: what came in above the row that was newest before is this save's.
        changed = next((i for i, row in enumerate(self.history) if row == newest), len(self.history))
        return rx.toast.success(
            f"Saved: {changed} field{'s' if changed != 1 else ''} changed."
            if changed > 0
            else "Nothing changed.",
            id="saved",
        )

    # ------------------------------------------------------------------ dialogs

    @rx.event
    @requires("patient.read")
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self._close()

    @rx.event
    @requires("patient.read")
    async def close_dialog(self):
        self._close()

    def _dialog_fail(self, error: DomainError) -> None:
        """Show the refusal next to the dialog's field it names, else above the dialog's buttons."""
        self.saving = False
        self.dialog_error = str(error)
        self.dialog_error_field = error.field if error.field in DIALOG_FIELDS else ""

    async def _done(self, message: str):
        self._close()
        self.saving = False
        problem = await self._reload()
        return [rx.toast.success(message), problem] if problem else rx.toast.success(message)

    @rx.event
    @requires("patient.write")
    async def open_status(self, status: str):
        if status not in STATUSES:
            return rx.toast.error("Choose active, inactive or deceased.")
        self._close()
        self.dialog, self.status_choice = "status", status
        return None

    @rx.event
    @requires("patient.write")
    async def submit_status(self, form: dict):
        form = form if isinstance(form, dict) else {}
        if self.dialog != "status" or not self.record_id:
            self._close()
            return
        try:
            reason = _form_text(form, "reason")
            deceased_on = _form_text(form, "deceased_on") if self.status_choice == "deceased" else None
        except ValidationError as error:
            self._dialog_fail(error)
            return
        self.saving = True
        yield
        try:
            await self._run(
                svc.set_patient_status,
                patient_id=self.record_id,
                status=self.status_choice,
                reason=reason,
                deceased_on=deceased_on,
            )
        except DomainError as error:
            self._dialog_fail(error)
            return
        yield await self._done(f"{self.name} is now marked {self.status_choice}.")

    @rx.event
    @requires("patient.merge")
    async def open_merge(self):
        self._close()
        self.dialog = "merge"

    @rx.event
    @requires("patient.merge")
    async def find_other(self, form: dict):
        """Look up the record to merge into this one by its MRN (the check digit catches typos)."""
        form = form if isinstance(form, dict) else {}
        self._other_id, self.other, self.dialog_error, self.dialog_error_field = 0, OtherRecord(), "", ""
        try:
            mrn = _form_text(form, "other_mrn", limit=20).strip().upper().replace(" ", "")
            if not svc.is_valid_mrn(mrn):
                raise ValidationError(
                    f"{mrn or 'That'} is not a valid MRN: it looks like H0001234-4, and the last "
                    "digit is a check digit.",
                    field="other_mrn",
                )
            rows, _total = await self._run(svc.search_patients, query=mrn, page_size=5)
        except DomainError as error:
            self._dialog_fail(error)
            return
        row = next((r for r in rows if r.mrn == mrn), None)
        if row is None:
            self._dialog_fail(
                ValidationError(
                    f"No record with MRN {mrn} that could be merged (it may itself have been "
                    "merged already).",
                    field="other_mrn",
                )
            )
            return
        if row.id == self.record_id:
            self._dialog_fail(
                ValidationError("That is this record; enter the MRN of the other one.", field="other_mrn")
            )
            return
        self._other_id = row.id
        self.other = OtherRecord(
            row.id,
            row.mrn,
            row.name,
            row.sex,
            row.birth_date.isoformat(),
            row.phone,
            _status(row.active, row.deceased),
        )

    @rx.event
    @requires("patient.merge")
    async def submit_merge(self, form: dict):
        form = form if isinstance(form, dict) else {}
        if self.dialog != "merge" or not self._other_id or not self.record_id:
            self._dialog_fail(
                ValidationError("Look up the other record by its MRN first.", field="other_mrn")
            )
            return
        try:
            reason = _form_text(form, "reason")
        except ValidationError as error:
            self._dialog_fail(error)
            return
        other_mrn = self.other.mrn
        self.saving = True
        yield
        try:
            result = await self._run(
                svc.merge_patients, survivor_id=self.record_id, merged_id=self._other_id, reason=reason
            )
        except DomainError as error:
            self._dialog_fail(error)
            return
        moved = sum(result.moved.values())
        yield await self._done(
            f"{other_mrn} merged into {self.mrn}: {moved} linked row{'s' if moved != 1 else ''} moved."
        )

    @rx.event
    @requires("patient.merge")
    async def open_undo(self, merge_id: int):
        try:
            wanted = browser_id(merge_id, "merge")
            line = next((m for m in self.merges if m.id == wanted and not m.undone), None)
            if line is None:
                raise ValidationError(
                    "That merge is not on this page or was already undone. Reload and try again."
                )
        except DomainError as error:
            return rx.toast.error(str(error))
        self._close()
        self.dialog, self._undo_id = "undo", line.id
        self.undo_note = (
            f"{line.other_mrn} ({line.other_name}) was merged into this record on {line.when}"
            if line.role == "survivor"
            else f"This record was merged into {line.other_mrn} ({line.other_name}) on {line.when}"
        )
        return None

    @rx.event
    @requires("patient.merge")
    async def submit_undo(self, form: dict):
        form = form if isinstance(form, dict) else {}
        if self.dialog != "undo" or not self._undo_id:
            self._close()
            return
        try:
            reason = _form_text(form, "reason")
        except ValidationError as error:
            self._dialog_fail(error)
            return
        self.saving = True
        yield
        try:
            result = await self._run(svc.undo_merge, merge_id=self._undo_id, reason=reason)
        except DomainError as error:
            self._dialog_fail(error)
            return
        moved = sum(result.moved.values())
        yield await self._done(f"Merge undone: {moved} linked row{'s' if moved != 1 else ''} moved back.")


# ====================================================================== wristband


class WristbandState(SessionState):
    """What the printed wristband and the sheet of labels show."""

    problem: str = ""
    loaded: bool = False
    record_id: int = 0
    mrn: str = ""
    name: str = ""
    birth_date: str = ""
    sex: str = ""
    allergies: list[str] = []
    barcode: str = ""

    @rx.event
    @requires("patient.read")
    async def load(self):
        self.loaded, self.problem = False, ""
        try:
            self.record_id = route_patient_id(self.router.url.path)
            band = await self._run(svc.wristband, patient_id=self.record_id)
        except DomainError as error:
            self.problem = str(error)
            return None
        self.mrn, self.name, self.birth_date, self.sex = (
            band.mrn,
            band.name,
            band.birth_date.isoformat(),
            band.sex,
        )
        self.allergies, self.barcode = list(band.allergies), band.barcode_svg_data_url
        self.loaded = True
        return None


# ====================================================================== coverage (details page tab)


@dataclass
class CoverageLine:
    id: int = 0
    payer: str = ""
    plan: str = ""
    member_id: str = ""
    valid: str = ""
    priority: str = ""
    shares: str = ""
    status: str = ""


def _coverage_line(row) -> CoverageLine:
    valid = row.valid_from.isoformat() + " – " + (row.valid_to.isoformat() if row.valid_to else "open")
    copay = (
        f"${row.copay_cents // 100}.{row.copay_cents % 100:02d} co-pay" if row.copay_cents else "no co-pay"
    )
    status = "current" if row.current else ("ended" if not row.active else "not in force")
    priority = {1: "primary", 2: "secondary"}.get(row.priority, f"priority {row.priority}")
    return CoverageLine(
        row.id,
        row.payer,
        row.plan_name,
        row.member_id,
        valid,
        priority,
        f"{copay}, {row.coinsurance_percent}% co-insurance",
        status,
    )


class CoverageState(SessionState):
    """The patient's insurance on the details page: list, add, end."""

    record_id: int = 0
    lines: list[CoverageLine] = []
    payers: list[list[str]] = []  # [id, name] pairs for the select
    dialog_open: bool = False
    error_field: str = ""
    error_text: str = ""

    _end_id: int = 0

    async def _reload(self):
        from hms_app.services import coverage

        rows = await self._run(coverage.list_coverage, patient_id=self.record_id)
        self.lines = [_coverage_line(r) for r in rows]

    @rx.event
    @requires("patient.read")
    async def load(self):
        from hms_app.services import coverage

        self.dialog_open, self.error_field, self.error_text = False, "", ""
        try:
            self.record_id = route_patient_id(self.router.url.path)
            await self._reload()
            self.payers = [[str(p.id), p.name] for p in await self._run(coverage.list_payers)]
        except DomainError as error:
            self.record_id, self.lines = 0, []
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("patient.write")
    async def open_add(self):
        self.dialog_open, self.error_field, self.error_text = True, "", ""

    @rx.event
    @requires("patient.read")
    async def close_dialog(self):
        self.dialog_open = False

    @rx.event
    @requires("patient.write")
    async def add(self, form: dict):
        from hms_app.services import coverage

        form = {k: str(v)[:200] for k, v in (form if isinstance(form, dict) else {}).items()}
        try:
            await self._run(coverage.add_coverage, patient_id=self.record_id, data=form)
            await self._reload()
        except DomainError as error:
            self.error_field, self.error_text = error.field or "", str(error)
            return None
        self.dialog_open, self.error_field, self.error_text = False, "", ""
        return rx.toast.success("Coverage recorded.")

    @rx.event
    @requires("patient.write")
    async def end(self, coverage_id: int):
        from hms_app.services import coverage

        # Only a coverage on the screen of this patient can be ended from here.
        if coverage_id not in {line.id for line in self.lines}:
            return rx.toast.error("That coverage is not on this record.")
        try:
            await self._run(coverage.end_coverage, coverage_id=coverage_id, reason="ended at the front desk")
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success("Coverage ended.")

"""One patient's details (/patients/[patient_id]/details): demographics form, change history,
status, photo, and merging records and undoing merges."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.clock import format_local, local_today
from hms_app.errors import DomainError, NotFound, ValidationError, field_messages
from hms_app.plurals import counted
from hms_app.services.patients.demographics import BOOLEAN_FIELDS, DEMOGRAPHIC_FIELDS, age_years
from hms_app.services.patients.merge import MergeRow, merge_patients, undo_merge
from hms_app.services.patients.mrn import is_valid_mrn
from hms_app.services.patients.photo import set_patient_photo
from hms_app.services.patients.records import (
    HistoryRow,
    get_patient_details,
    set_patient_status,
    update_patient,
)
from hms_app.services.patients.search import search_patients
from hms_app.state.patients.common import (
    TEXT_FIELDS,
    form_demographics,
    form_text,
    record_status,
    route_patient_id,
)
from hms_app.state.session import SessionState, browser_id, requires

STATUSES = ("active", "inactive", "deceased")
DIALOG_FIELDS = ("other_mrn", "reason", "deceased_on")  # the fields of the details page's dialogs
PHOTO_UPLOAD_ID = "patient-photo"
PHOTO_MAX_MB = 5
PHOTO_MAX_BYTES = PHOTO_MAX_MB * 1024 * 1024
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


def _history_line(row: HistoryRow) -> HistoryLine:
    return HistoryLine(
        format_local(row.changed_at),
        row.changed_by,
        LABELS.get(row.field, row.field),
        row.old_value,
        row.new_value,
        row.reason,
    )


def _merge_line(row: MergeRow, patient_id: int) -> MergeLine:
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
        f"{counted(row.moved_rows, 'linked row')} moved",
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
    error_field: str = ""  # kept "" : a message that belongs to no field shows above the form
    error_text: str = ""
    field_errors: dict[str, str] = {}  # every field's message at once, shown under each field
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
            details = await self._run(get_patient_details, patient_id=self.record_id)
        except NotFound as error:
            self.problem, self.loaded = str(error), False
            return None
        except DomainError as error:
            return rx.toast.error(str(error))
        p = details.record
        self.mrn, self.sex = p.mrn, p.sex
        self.name = p.name
        self.birth_date, self.age = p.birth_date.isoformat(), age_years(p.birth_date, local_today())
        self.status = "merged" if p.merged_into_id else record_status(p.active, p.deceased_at is not None)
        self.deceased_on = format_local(p.deceased_at, "%Y-%m-%d")
        values = p.demographics
        self.form_values = {k: ("" if values[k] is None else str(values[k])) for k in TEXT_FIELDS}
        self.consents = {k: bool(values[k]) for k in BOOLEAN_FIELDS}
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
        self.field_errors = {}
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
            yield rx.toast.error(f"The photo is larger than {PHOTO_MAX_MB} MB.")
            return
        name = (upload.filename or "").lower()
        content_type = "image/png" if name.endswith(".png") else "image/jpeg"
        self.uploading_photo = True
        yield
        content = await upload.read(PHOTO_MAX_BYTES + 1)
        try:
            if len(content) > PHOTO_MAX_BYTES:
                raise ValidationError(f"The photo is larger than {PHOTO_MAX_MB} MB.")
            # The bytes go to the service, which keeps them outside the public upload folder.
            self.photo_id = await self._run(
                set_patient_photo, patient_id=self.record_id, content=content, content_type=content_type
            )
        except DomainError as error:
            self.uploading_photo = False
            yield rx.toast.error(str(error))
            return
        self.uploading_photo = False
        yield [rx.clear_selected_files(PHOTO_UPLOAD_ID), rx.toast.success("Photo saved.")]

    # ------------------------------------------------------------------ demographics

    def _form_failed(self, error: DomainError) -> None:
        shown = field_messages(error, (*DEMOGRAPHIC_FIELDS, "change_reason"))
        self.error_field, self.error_text = "", shown.pop("", "")
        self.field_errors = shown

    @rx.event
    @requires("patient.write")
    async def save(self, form: dict):
        if not self.record_id:
            return None
        form = form if isinstance(form, dict) else {}
        try:
            data = form_demographics(form)
            reason = form_text(form, "change_reason").strip()
        except ValidationError as error:
            self._form_failed(error)
            return None
        newest = self.history[0] if self.history else None
        self.saving, self.error_field, self.error_text, self.field_errors = True, "", "", {}
        try:
            await self._run(update_patient, patient_id=self.record_id, data=data, reason=reason or None)
        except DomainError as error:
            self.saving = False
            self._form_failed(error)
            return None
        self.saving = False
        problem = await self._reload()
        if problem:
            return problem
        # History is newest first: what came in above the row that was newest before is this save's.
        changed = next((i for i, row in enumerate(self.history) if row == newest), len(self.history))
        return rx.toast.success(
            f"Saved: {counted(changed, 'field')} changed." if changed > 0 else "Nothing changed.",
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
            reason = form_text(form, "reason")
            deceased_on = form_text(form, "deceased_on") if self.status_choice == "deceased" else None
        except ValidationError as error:
            self._dialog_fail(error)
            return
        self.saving = True
        yield
        try:
            await self._run(
                set_patient_status,
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
            mrn = form_text(form, "other_mrn", limit=20).strip().upper().replace(" ", "")
            if not is_valid_mrn(mrn):
                raise ValidationError(
                    f"{mrn or 'That'} is not a valid MRN: it looks like H0001234-4, and the last "
                    "digit is a check digit.",
                    field="other_mrn",
                )
            rows, _total = await self._run(search_patients, query=mrn, page_size=5)
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
            record_status(row.active, row.deceased),
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
            reason = form_text(form, "reason")
        except ValidationError as error:
            self._dialog_fail(error)
            return
        other_mrn = self.other.mrn
        self.saving = True
        yield
        try:
            result = await self._run(
                merge_patients, survivor_id=self.record_id, merged_id=self._other_id, reason=reason
            )
        except DomainError as error:
            self._dialog_fail(error)
            return
        moved = sum(result.moved.values())
        yield await self._done(f"{other_mrn} merged into {self.mrn}: {counted(moved, 'linked row')} moved.")

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
            reason = form_text(form, "reason")
        except ValidationError as error:
            self._dialog_fail(error)
            return
        self.saving = True
        yield
        try:
            result = await self._run(undo_merge, merge_id=self._undo_id, reason=reason)
        except DomainError as error:
            self._dialog_fail(error)
            return
        moved = sum(result.moved.values())
        yield await self._done(f"Merge undone: {counted(moved, 'linked row')} moved back.")

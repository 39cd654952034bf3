"""Registration (/patients/new) with live duplicate detection and the duplicate confirmation."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.services.patient_keys import fold, phone_digits
from hms_app.services.patients.demographics import DEMOGRAPHIC_FIELDS
from hms_app.services.patients.duplicates import DuplicateCandidate, DuplicateSuspected, find_duplicates
from hms_app.services.patients.records import register_patient
from hms_app.state.patients.common import (
    MAX_QUERY,
    form_demographics,
    form_text,
)
from hms_app.state.session import SessionState, requires

WATCHED = ("given_name", "family_name", "birth_date", "phone")  # what duplicate detection looks at


@dataclass
class MatchLine:
    id: int = 0
    mrn: str = ""
    name: str = ""
    birth_date: str = ""
    phone: str = ""
    score: int = 0  # percent
    reasons: str = ""


def _match(candidate: DuplicateCandidate) -> MatchLine:
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

    error_field: str = ""  # kept "" : a message that belongs to no field shows above the form
    error_text: str = ""
    field_errors: dict[str, str] = {}  # every field's message at once, shown under each field
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
        self.field_errors = {}
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
                find_duplicates,
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
        if name in self.field_errors:
            self.field_errors = {k: v for k, v in self.field_errors.items() if k != name}
        return await self._check()

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        shown = field_messages(error, DEMOGRAPHIC_FIELDS)
        self.error_field, self.error_text = "", shown.pop("", "")
        self.field_errors = shown

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
            data = form_demographics(form if isinstance(form, dict) else {})
        except ValidationError as error:
            self._fail(error)
            return
        self.saving, self.error_field, self.error_text, self.field_errors = True, "", "", {}
        yield
        try:
            patient = await self._run(register_patient, data=data)
        except DuplicateSuspected as suspected:
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
            reason = form_text(form if isinstance(form, dict) else {}, "reason").strip()
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
            patient = await self._run(register_patient, data=dict(self._pending), duplicate_reason=reason)
        except DomainError as error:
            self.saving = False
            if error.field in DEMOGRAPHIC_FIELDS:  # the form must change first: back to it
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

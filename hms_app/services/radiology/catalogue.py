"""The imaging catalogue: the examinations the department performs (modality, body part, contrast,
preparation, the billing code, the visit length on a scanner and the report template), searched
by the order dialog and added to by the catalogue's keepers (and the seeder).

Which safety questions an examination asks follows from its modality and contrast alone:

* pregnancy for an ionising modality (``IONISING``) or for any contrast, of women 12 to 55;
* implants and pacemaker for MR;
* contrast allergy and the latest eGFR when contrast is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.errors import Conflict, FieldErrors, NotFound, ValidationError
from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.radiology import MODALITIES, ImagingProcedure
from hms_app.services.audit import record_audit
from hms_app.services.inputs import as_id
from hms_app.services.permissions import Actor, authorize
from hms_app.services.radiology.common import CATALOGUE, ORDER, WORK

# Modalities whose examinations use ionising radiation: pregnancy matters.
IONISING = frozenset({"CR", "CT", "NM", "MG", "XA", "DX"})
PROCEDURE_MISSING = "That imaging examination does not exist."
MAX_SEARCH = 60
MAX_HITS = 30


@dataclass(frozen=True)
class ProcedureChoice:
    """One examination as the order dialog offers it."""

    id: int
    code: str
    name: str
    modality: str
    modality_label: str
    body_part: str
    contrast: bool
    preparation: str
    duration_minutes: int
    ionising: bool


def _choice(p: ImagingProcedure) -> ProcedureChoice:
    return ProcedureChoice(
        id=p.id,
        code=p.code,
        name=p.name,
        modality=p.modality,
        modality_label=MODALITIES.get(p.modality, p.modality),
        body_part=p.body_part,
        contrast=bool(p.contrast),
        preparation=p.preparation or "",
        duration_minutes=p.duration_minutes,
        ionising=p.modality in IONISING,
    )


def authorize_any(
    actor: Actor | None, permissions: tuple[str, ...], *, patient_id: int | None = None
) -> Actor:
    """``authorize`` for work that any of ``permissions`` allows (the orderer's or the department's);
    refused with the first one's message."""
    for permission in permissions:
        if actor is not None and actor.can(permission):
            return authorize(actor, permission, patient_id=patient_id)
    return authorize(actor, permissions[0], patient_id=patient_id)


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def get_procedure(session: Session, procedure_id, *, active: bool = False) -> ImagingProcedure:
    """The examination with this id (refused when gone, or with ``active`` when withdrawn)."""
    procedure = session.get(ImagingProcedure, as_id(procedure_id, field="procedure_id", label="examination"))
    if procedure is None:
        raise NotFound(PROCEDURE_MISSING)
    if active and not procedure.active:
        raise ValidationError(f"{procedure.name} can no longer be ordered.", field="procedure_id")
    return procedure


def search_procedures(
    session: Session, *, actor: Actor, query: str = "", modality: str = "", limit: int = 12
) -> list[ProcedureChoice]:
    """Active examinations matching ``query`` (name, code, body part or modality), by name
    (``imaging.order``; the work list's ``radiology.work`` reads it too)."""
    authorize_any(actor, (ORDER, WORK))
    text = " ".join(str(query or "").split())[:MAX_SEARCH]
    limit = max(1, min(int(limit) if isinstance(limit, int) else 12, MAX_HITS))
    conditions = [ImagingProcedure.active.is_(True)]
    if modality:
        if modality not in MODALITIES:
            raise ValidationError("Choose a modality from the list.", field="modality")
        conditions.append(ImagingProcedure.modality == modality)
    for word in text.split(" ") if text else []:
        pattern = _like(word)
        conditions.append(
            or_(
                func.lower(ImagingProcedure.name).like(pattern, escape="\\"),
                func.lower(ImagingProcedure.code).like(pattern, escape="\\"),
                func.lower(ImagingProcedure.body_part).like(pattern, escape="\\"),
                func.lower(ImagingProcedure.modality).like(pattern, escape="\\"),
            )
        )
    rows = session.execute(
        select(ImagingProcedure)
        .where(*conditions)
        .order_by(ImagingProcedure.name, ImagingProcedure.id)
        .limit(limit)
    ).scalars()
    return [_choice(p) for p in rows]


def procedure_choice(session: Session, *, actor: Actor, procedure_id) -> ProcedureChoice:
    """One active examination as the dialog shows it (``imaging.order``)."""
    authorize(actor, ORDER)
    return _choice(get_procedure(session, procedure_id, active=True))


def _text(errors: FieldErrors, data: dict, name: str, label: str, maximum: int, required: bool) -> str:
    value = " ".join(str(data.get(name) or "").split())
    if required and not value:
        errors.add(name, f"{label} is required.")
    elif len(value) > maximum:
        errors.add(name, f"{label} can be at most {maximum} characters.")
    return value


def add_procedure(session: Session, *, actor: Actor, data: dict) -> ProcedureChoice:
    """Add an examination to the catalogue (``imaging.catalogue``): a unique code, a modality of
    ``MODALITIES``, a charge code that billing's catalogue knows (or none)."""
    authorize(actor, CATALOGUE)
    errors = FieldErrors()
    code = _text(errors, data, "code", "The code", 30, True).upper()
    name = _text(errors, data, "name", "The name", 120, True)
    modality = str(data.get("modality") or "").strip().upper()
    if modality not in MODALITIES:
        errors.add("modality", "Choose a modality from the list.")
    body_part = _text(errors, data, "body_part", "The body part", 40, True).upper()
    preparation = _text(errors, data, "preparation", "The preparation", 300, False)
    charge_code = _text(errors, data, "charge_code", "The charge code", 30, False).upper()
    template = str(data.get("report_template") or "").replace("\r\n", "\n").strip()
    if len(template) > 2000:
        errors.add("report_template", "The report template can be at most 2000 characters.")
    duration = data.get("duration_minutes", 20)
    if isinstance(duration, bool) or not isinstance(duration, int) or not 5 <= duration <= 240:
        errors.add("duration_minutes", "The length is 5 to 240 minutes.")
    if code and session.execute(select(ImagingProcedure.id).where(ImagingProcedure.code == code)).first():
        errors.add("code", f"An examination with the code {code} already exists.")
    if (
        charge_code
        and not session.execute(
            select(ChargeItemDefinition.id).where(ChargeItemDefinition.code == charge_code)
        ).first()
    ):
        errors.add("charge_code", f"Billing's catalogue has no code {charge_code}.")
    errors.raise_any()
    procedure = ImagingProcedure(
        code=code,
        name=name,
        modality=modality,
        body_part=body_part,
        contrast=data.get("contrast") is True,
        preparation=preparation or None,
        charge_code=charge_code or None,
        duration_minutes=duration,
        report_template=template or None,
    )
    session.add(procedure)
    try:
        session.flush()
    except IntegrityError:  # the code was taken between the check and the insert
        session.rollback()
        raise Conflict(f"An examination with the code {code} already exists.") from None
    record_audit(
        session,
        actor,
        "imaging.catalogue_add",
        target_type="imaging_procedure",
        target_id=procedure.id,
        detail=f"{code} {name}",
    )
    session.commit()
    return _choice(procedure)

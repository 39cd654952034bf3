"""A bed's own status: cleaned, out of service, back in service. Each change is one conditional
UPDATE from the statuses it may come from, audited, and tells the ward's open boards."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.wards import Bed, Ward
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen
from hms_app.services.wards.board import BED_LABELS


def required_text(value, label: str, field: str, *, minimum: int = 3, maximum: int = 300) -> str:
    """Free text that must be given (a reason), squeezed onto one line and kept within bounds."""
    text = " ".join(str(value or "").split())
    if len(text) < minimum:
        raise ValidationError(f"Enter the {label} ({minimum} characters or more).", field=field)
    if len(text) > maximum:
        raise ValidationError(f"Keep the {label} under {maximum} characters.", field=field)
    return text


def active_bed(session: Session, bed_id: int) -> tuple[Bed, Ward]:
    """A bed of an open ward, with its ward, or NotFound."""
    bed = session.get(Bed, bed_id)
    ward = session.get(Ward, bed.ward_id) if bed is not None else None
    if bed is None or ward is None or not ward.active:
        raise NotFound("That bed does not exist.")
    return bed, ward


def _set_bed_status(
    session: Session,
    *,
    actor: Actor,
    bed_id: int,
    allowed_from: tuple[str, ...],
    to: str,
    action: str,
    refusal: dict[str, str],
    note: str | None = None,
) -> Bed:
    authorize(actor, "ward.manage")
    bed, ward = active_bed(session, bed_id)
    now = utcnow()
    changed = session.execute(
        update(Bed)
        .where(Bed.id == bed.id, Bed.status.in_(allowed_from))
        .values(status=to, status_since=now, status_note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        session.refresh(bed)
        message = refusal.get(
            bed.status, f"Bed {bed.label} is {BED_LABELS.get(bed.status, bed.status).lower()}."
        )
        session.rollback()
        raise Conflict(message.format(label=bed.label))
    session.refresh(bed)
    record_audit(
        session,
        actor,
        action,
        target_type="bed",
        target_id=bed.id,
        detail=f"{ward.name} bed {bed.label}" + (f": {note}" if note else ""),
    )
    session.commit()
    live.publish(live.BEDS, ward.id)
    return bed


@returns_frozen
def mark_bed_clean(session: Session, *, actor: Actor, bed_id: int) -> Bed:
    """A bed that was being cleaned is ready for the next patient."""
    return _set_bed_status(
        session,
        actor=actor,
        bed_id=bed_id,
        allowed_from=("cleaning",),
        to="free",
        action="bed.clean",
        refusal={
            "free": "Bed {label} is already clean and free.",
            "occupied": "Bed {label} has a patient in it.",
            "out_of_service": "Bed {label} is out of service; put it back in service instead.",
        },
    )


@returns_frozen
def set_bed_out_of_service(session: Session, *, actor: Actor, bed_id: int, reason: str) -> Bed:
    """Take an empty bed out of use (broken, isolation, staffing), saying why."""
    authorize(actor, "ward.manage")
    reason = required_text(reason, "reason", "reason", maximum=200)
    return _set_bed_status(
        session,
        actor=actor,
        bed_id=bed_id,
        allowed_from=("free", "cleaning"),
        to="out_of_service",
        action="bed.out_of_service",
        refusal={
            "occupied": "Bed {label} has a patient in it. Transfer the patient first.",
            "out_of_service": "Bed {label} is already out of service.",
        },
        note=reason,
    )


@returns_frozen
def return_bed_to_service(session: Session, *, actor: Actor, bed_id: int) -> Bed:
    """Put an out-of-service bed back in use; it is cleaned before the next patient."""
    return _set_bed_status(
        session,
        actor=actor,
        bed_id=bed_id,
        allowed_from=("out_of_service",),
        to="cleaning",
        action="bed.in_service",
        refusal={"free": "Bed {label} is already in service.", "occupied": "Bed {label} is in service."},
    )

"""The unmatched images: DICOM files that storage set aside (no accession, an accession no order has,
or a PatientID that is not the order's patient's MRN) for a person to reconcile, one study at a time.

Rules written down:

* the list shows the open (unresolved) images grouped by study UID, newest first, one SQL page at a
  time, with what the files say: patient name and PatientID, accession, modalities, how many images,
  when and from whom they came, and why they were set aside. A work list: not audited per refresh
  (it names no patient of the hospital's; the files' own words only);
* **filing** a study needs the accession of the order it belongs to; the person sees that order's
  patient (name, MRN, birth date) and examination first (``order_for_filing``, audited as a look at
  that patient) and confirms. A cancelled order, an unknown accession, and a study UID already filed
  to another patient (or to another order) are refused. Every open image of the study is filed
  exactly as storage files an image that matched on arrival (``filing.file_image``): the file moves
  from ``unmatched/`` to ``<study>/<series>/<sop>.dcm``, the study, series and instance rows and
  counts are made, the order moves on to images received; the images' rows are marked resolved
  ("filed to ACC..."), one audit row for the study with the patient, one commit. The new files are
  written before that commit and removed again if it fails; the unmatched files are removed only
  after it;
* **discarding** a study needs a reason; its rows are resolved "discarded: <reason>", audited, and
  the files deleted after the commit.

Permission ``imaging.catalogue`` (radiologists and administrators: "file unmatched images"), not the
radiographer's ``radiology.work``: filing puts images into a patient's chart, the mistake this list
exists to prevent, so it is done by someone other than the modality's operator who produced the
mismatch, as a second check. A department that wants senior radiographers to reconcile grants them
``imaging.catalogue``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import distinct, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.radiology import (
    UNMATCHED_REASONS,
    ImagingOrder,
    ImagingProcedure,
    ImagingStudy,
    UnmatchedImage,
)
from hms_app.services import live
from hms_app.services.audit import audit_read, record_audit
from hms_app.services.inputs import actor_name
from hms_app.services.permissions import Actor, authorize
from hms_app.services.radiology.common import CATALOGUE, TOPIC, dicom_root
from hms_app.services.radiology.filing import Refused, file_image
from hms_app.services.radiology.storage import UID, UID_MAX, UNMATCHED_KEY, read_dicom

MAX_PAGE = 100
ACCESSION_MAX = 16
REASON_MIN, REASON_MAX = 3, 180  # "discarded: " + the reason fits the 200 of ``resolution``
STUDY_GONE = "No open unmatched images of this study: someone has filed or discarded them."


@dataclass(frozen=True)
class UnmatchedStudy:
    """One study's open unmatched images, as the files describe them."""

    study_uid: str
    patient_name: str  # the file's PatientName ("" when none)
    patient_key: str  # the file's PatientID
    patient_keys: int  # how many different PatientIDs its files carry (more than one: look closely)
    accession: str  # the file's AccessionNumber ("" when none)
    modalities: tuple[str, ...]
    images: int
    received_at: datetime  # the latest image
    received_from: str
    reasons: tuple[str, ...]  # UNMATCHED_REASONS keys
    reason_label: str


@dataclass(frozen=True)
class UnmatchedPage:
    rows: list[UnmatchedStudy]
    total: int  # open studies
    images: int  # open images


@dataclass(frozen=True)
class FilingTarget:
    """The order a study would be filed to, as the person must see it before confirming."""

    order_id: int
    accession: str
    patient_id: int
    patient_name: str  # "OKAFOR, Ada"
    mrn: str
    birth_date: date
    sex: str
    procedure: str
    modality: str
    status: str
    ordered_at: datetime


@dataclass(frozen=True)
class FiledStudy:
    study_uid: str
    order_id: int
    accession: str
    patient_name: str
    mrn: str
    images: int


def _study_uid(value) -> str:
    text = str(value or "").strip() if isinstance(value, str) else ""
    if not text or len(text) > UID_MAX or not UID.fullmatch(text):
        raise ValidationError("Choose a study from the list.", field="study_uid")
    return text


def _accession(value) -> str:
    text = "".join(str(value).split()).upper() if isinstance(value, str) else ""
    if not text:
        raise ValidationError("Type the accession number of the order.", field="accession")
    if len(text) > ACCESSION_MAX:
        raise ValidationError(
            f"An accession number has at most {ACCESSION_MAX} characters.", field="accession"
        )
    return text


def _whole(value, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _patient_name(patient: Patient) -> str:
    return f"{(patient.family_name or '').upper()}, {patient.given_name or ''}".strip(", ")


def _reason_label(reasons: tuple[str, ...]) -> str:
    return "; ".join(UNMATCHED_REASONS.get(r, r) for r in reasons)


_OPEN = UnmatchedImage.resolved_at.is_(None)


def unmatched_page(session: Session, *, actor: Actor, page: int = 0, page_size: int = 50) -> UnmatchedPage:
    """One page of the open unmatched images, one row per study, newest first (``imaging.catalogue``)."""
    authorize(actor, CATALOGUE)
    page = max(0, _whole(page, 0))
    size = max(1, min(_whole(page_size, 50), MAX_PAGE))
    total, images = session.execute(
        select(func.count(distinct(UnmatchedImage.study_uid)), func.count(UnmatchedImage.id)).where(_OPEN)
    ).one()
    latest = func.max(UnmatchedImage.received_at)
    grouped = session.execute(
        select(
            UnmatchedImage.study_uid,
            func.count(UnmatchedImage.id),
            latest,
            func.min(UnmatchedImage.patient_name),
            func.min(UnmatchedImage.patient_key),
            func.count(distinct(UnmatchedImage.patient_key)),
            func.min(UnmatchedImage.accession),
            func.min(UnmatchedImage.received_from),
        )
        .where(_OPEN)
        .group_by(UnmatchedImage.study_uid)
        .order_by(latest.desc(), UnmatchedImage.study_uid)
        .offset(page * size)
        .limit(size)
    ).all()
    if not grouped:
        return UnmatchedPage([], int(total or 0), int(images or 0))
    kinds: dict[str, tuple[set[str], set[str]]] = {row[0]: (set(), set()) for row in grouped}
    for uid, modality, reason in session.execute(
        select(UnmatchedImage.study_uid, UnmatchedImage.modality, UnmatchedImage.reason)
        .where(_OPEN, UnmatchedImage.study_uid.in_(list(kinds)))
        .distinct()
    ).all():
        if modality:
            kinds[uid][0].add(modality)
        kinds[uid][1].add(reason)
    rows = []
    for uid, count, received_at, name, key, keys, accession, sender in grouped:
        reasons = tuple(r for r in UNMATCHED_REASONS if r in kinds[uid][1]) + tuple(
            sorted(kinds[uid][1] - set(UNMATCHED_REASONS))
        )
        rows.append(
            UnmatchedStudy(
                study_uid=uid,
                patient_name=name or "",
                patient_key=key or "",
                patient_keys=int(keys or 0),
                accession=accession or "",
                modalities=tuple(sorted(kinds[uid][0])),
                images=int(count),
                received_at=received_at,
                received_from=sender or "",
                reasons=reasons,
                reason_label=_reason_label(reasons),
            )
        )
    return UnmatchedPage(rows, int(total), int(images))


def _order(session: Session, accession: str, *, lock: bool = False):
    statement = (
        select(ImagingOrder, Patient, ImagingProcedure)
        .join(Patient, Patient.id == ImagingOrder.patient_id)
        .join(ImagingProcedure, ImagingProcedure.id == ImagingOrder.procedure_id)
        .where(ImagingOrder.accession == accession)
    )
    if lock:
        statement = statement.with_for_update(of=ImagingOrder)
    row = session.execute(statement).first()
    if row is None:
        raise NotFound(f"No imaging order has the accession number {accession}.", field="accession")
    order, patient, procedure = row
    if order.status == "cancelled":
        raise Conflict(
            f"{accession} is cancelled: images are not filed to a cancelled order.", field="accession"
        )
    return order, patient, procedure


def order_for_filing(session: Session, *, actor: Actor, accession) -> FilingTarget:
    """The order with ``accession`` and its patient, shown before a study is filed to it
    (``imaging.catalogue``; audited as a look at that patient). A cancelled order is refused."""
    authorize(actor, CATALOGUE)
    order, patient, procedure = _order(session, _accession(accession))
    authorize(actor, CATALOGUE, patient_id=patient.id)
    target = FilingTarget(
        order_id=order.id,
        accession=order.accession,
        patient_id=patient.id,
        patient_name=_patient_name(patient),
        mrn=patient.mrn,
        birth_date=patient.birth_date,
        sex=patient.sex,
        procedure=procedure.name,
        modality=procedure.modality,
        status=order.status,
        ordered_at=order.ordered_at,
    )
    audit_read(
        session,
        actor,
        "imaging.unmatched_order_viewed",
        patient_id=patient.id,
        target_type="imaging_order",
        target_id=order.id,
        detail=f"{order.accession}, to file unmatched images to",
    )
    return target


def _open_rows(session: Session, study_uid: str) -> list[UnmatchedImage]:
    rows = list(
        session.execute(
            select(UnmatchedImage)
            .where(_OPEN, UnmatchedImage.study_uid == study_uid)
            .order_by(UnmatchedImage.id)
            .with_for_update()
        ).scalars()
    )
    if not rows:
        raise NotFound(STUDY_GONE)
    return rows


def _resolve(session: Session, rows: list[UnmatchedImage], actor: Actor, resolution: str) -> None:
    """Mark ``rows`` resolved, each only if still open: someone resolving them at the same moment
    makes this a conflict instead of a second resolution."""
    done = session.execute(
        update(UnmatchedImage)
        .where(UnmatchedImage.id.in_([r.id for r in rows]), _OPEN)
        .values(resolved_at=utcnow(), resolved_by=actor_name(actor), resolution=resolution[:200])
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != len(rows):
        raise Conflict(STUDY_GONE)


def _remove(paths: list[str]) -> None:
    root = dicom_root()
    for relative in paths:
        with contextlib.suppress(OSError):
            (root / relative).unlink()


def _check_study(session: Session, study_uid: str, order: ImagingOrder) -> None:
    study = session.execute(
        select(ImagingStudy).where(ImagingStudy.study_uid == study_uid)
    ).scalar_one_or_none()
    if study is None:
        return
    if study.patient_id != order.patient_id:
        raise Conflict(
            "This study is already filed to another patient: its images cannot go to this order's "
            "patient. Check the order, or discard the images.",
            field="accession",
        )
    if study.order_id is not None and study.order_id != order.id:
        other = session.get(ImagingOrder, study.order_id)
        raise Conflict(
            f"This study is already filed to {other.accession if other else 'another order'}: "
            "file these images to that order.",
            field="accession",
        )


def file_study(session: Session, *, actor: Actor, study_uid, accession) -> FiledStudy:
    """File every open unmatched image of ``study_uid`` to the order with ``accession``
    (``imaging.catalogue``), as storage files an image that matched; one commit."""
    authorize(actor, CATALOGUE)
    study_uid, accession = _study_uid(study_uid), _accession(accession)
    order, patient, _procedure = _order(session, accession, lock=True)
    authorize(actor, CATALOGUE, patient_id=patient.id)
    rows = _open_rows(session, study_uid)
    _check_study(session, study_uid, order)
    paths, keys = [r.path for r in rows], sorted({r.patient_key or "(none)" for r in rows})
    reasons = _reason_label(tuple(sorted({r.reason for r in rows})))
    filed = FiledStudy(study_uid, order.id, order.accession, _patient_name(patient), patient.mrn, len(rows))
    undos = []
    try:
        # Resolved first: the write that makes a second person filing or discarding the same study
        # at the same moment wait (PostgreSQL's row locks, SQLite's write lock) and then find nothing.
        _resolve(session, rows, actor, f"filed to {order.accession}")
        for row in rows:
            try:
                data = (dicom_root() / row.path).read_bytes()
            except OSError:
                raise Conflict(
                    f"The file of image {row.sop_uid} is missing from the image store: discard the study."
                ) from None
            image = read_dicom(data)
            if (image.sop_uid, image.study_uid) != (row.sop_uid, row.study_uid):
                raise Conflict(
                    f"The file of image {row.sop_uid} is not the one set aside: discard the study."
                )
            kept = file_image(session, actor, image, order, row.received_from or "unknown", audited=False)
            if isinstance(kept, str):  # its study is another patient's (checked above; a race)
                raise Conflict("This study is already filed to another patient.", field="accession")
            undos.append(kept[1])
        study_id = session.execute(
            select(ImagingStudy.id).where(ImagingStudy.study_uid == study_uid)
        ).scalar_one()
        record_audit(
            session,
            actor,
            "imaging.unmatched_filed",
            patient_id=order.patient_id,
            target_type="imaging_study",
            target_id=study_id,
            detail=f"{len(rows)} unmatched images of study {study_uid} filed to {order.accession} "
            f"(the files' patient id {', '.join(keys)}; {reasons})",
        )
        session.commit()
    except BaseException as error:
        session.rollback()
        for undo in undos:
            undo()
        if isinstance(error, IntegrityError):
            raise Conflict(
                "Images of this study were filed at the same moment: look at the list again."
            ) from None
        if isinstance(error, Refused):
            raise Conflict(f"The study cannot be filed: {error}.") from None
        raise
    _remove(paths)
    live.publish(TOPIC, filed.order_id)
    live.publish(TOPIC, UNMATCHED_KEY)
    return filed


def discard_study(session: Session, *, actor: Actor, study_uid, reason) -> int:
    """Discard every open unmatched image of ``study_uid`` with a reason (``imaging.catalogue``); the
    files are deleted once that is committed. Returns how many images were discarded."""
    authorize(actor, CATALOGUE)
    study_uid = _study_uid(study_uid)
    text = " ".join(reason.split()) if isinstance(reason, str) else ""
    if len(text) < REASON_MIN:
        raise ValidationError("Say why the images are discarded.", field="reason")
    if len(text) > REASON_MAX:
        raise ValidationError(f"The reason can be at most {REASON_MAX} characters.", field="reason")
    rows = _open_rows(session, study_uid)
    paths, keys = [r.path for r in rows], sorted({r.patient_key or "(none)" for r in rows})
    _resolve(session, rows, actor, f"discarded: {text}")
    record_audit(
        session,
        actor,
        "imaging.unmatched_discarded",
        target_type="unmatched_study",
        target_id=study_uid,
        detail=f"{len(rows)} unmatched images of study {study_uid} discarded "
        f"(the files' patient id {', '.join(keys)}): {text}",
    )
    count = len(rows)
    session.commit()
    _remove(paths)
    live.publish(TOPIC, UNMATCHED_KEY)
    return count

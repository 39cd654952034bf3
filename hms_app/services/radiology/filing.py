"""Filing one checked DICOM file to an imaging order: the file kept at
``dicom_root()/<study>/<series>/<sop>.dcm``, its study, series and instance rows (the counts moved by
SQL), and the order moved on to images received. Used by ``storage`` for an image that matched its
order when it arrived, and by ``unmatched`` when a person files a study set aside to the order they
confirm, so that both leave exactly the same rows and files.

A file is put in place before the transaction that records it commits; the caller undoes it (the
function returned with it) when that transaction fails, so a recorded instance always has its file
and a file never stays without its row.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.models.radiology import ImagingInstance, ImagingOrder, ImagingSeries, ImagingStudy
from hms_app.services.audit import audit_row, record_audits
from hms_app.services.inputs import actor_name
from hms_app.services.permissions import Actor
from hms_app.services.radiology.common import dicom_root

RECEIVING = ("scheduled", "arrived", "in_progress")  # the order moves on to images_received


class Refused(Exception):
    """The file cannot be kept; ``str()`` says why in a sentence."""


def place_file(relative: str, data: bytes) -> Callable[[], None]:
    """Put ``data`` at ``dicom_root()/relative`` (complete or not at all) and return how to take it
    away again if the transaction that records it fails."""
    root = dicom_root().resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root):  # the UIDs were checked; this holds whatever they were
        raise Refused("the file's UIDs do not make a path inside the image store")
    target.parent.mkdir(parents=True, exist_ok=True)
    existed = target.exists()
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise

    def undo() -> None:
        if not existed:
            with contextlib.suppress(OSError):
                target.unlink()

    return undo


# Built once: for an image of a few kilobytes, constructing the statements would cost more than
# running them.
_STUDY = select(ImagingStudy).where(ImagingStudy.study_uid == bindparam("uid"))
_SERIES = select(ImagingSeries.id, ImagingSeries.study_id).where(ImagingSeries.series_uid == bindparam("uid"))
_INSTANCE = insert(ImagingInstance).returning(ImagingInstance.id)
# Counts move by SQL, so two senders filing the same study at once both count.
_SERIES_COUNT = (
    update(ImagingSeries.__table__)
    .where(ImagingSeries.__table__.c.id == bindparam("row_id"))
    .values(instance_count=ImagingSeries.__table__.c.instance_count + 1)
)
_STUDY_COUNT = (
    update(ImagingStudy.__table__)
    .where(ImagingStudy.__table__.c.id == bindparam("row_id"))
    .values(
        instance_count=ImagingStudy.__table__.c.instance_count + 1,
        series_count=ImagingStudy.__table__.c.series_count + bindparam("new_series"),
    )
)


def file_image(
    session: Session,
    actor: Actor,
    image,
    order: ImagingOrder,
    received_from: str,
    *,
    audited: bool = True,
) -> tuple[int, Callable[[], None]] | str:
    """File ``image`` (a checked ``storage.DicomFile``) to ``order``'s study; the instance's id and
    how to undo its file, or an UNMATCHED_REASONS key when its study is already another patient's.
    ``audited``: one audit row for the image (a caller that files many audits them as one)."""
    study = session.execute(_STUDY, {"uid": image.study_uid}).scalar_one_or_none()
    if study is not None and study.patient_id != order.patient_id:
        return "patient_mismatch"
    modality = image.modality[:4]
    if study is None:
        study = ImagingStudy(
            study_uid=image.study_uid,
            order_id=order.id,
            patient_id=order.patient_id,
            accession=order.accession,
            study_date=image.study_date,
            description=image.study_description,
            modalities=modality,
        )
        session.add(study)
        session.flush()
    elif modality not in study.modalities.split("|"):
        study.modalities = "|".join([m for m in study.modalities.split("|") if m] + [modality])[:40]
    series = session.execute(_SERIES, {"uid": image.series_uid}).first()
    if series is not None and series.study_id != study.id:
        raise Refused(f"series {image.series_uid} already belongs to another study")
    new_series = series is None
    if new_series:
        row = ImagingSeries(
            series_uid=image.series_uid,
            study_id=study.id,
            modality=modality,
            number=image.series_number,
            description=image.series_description,
            body_part=image.body_part,
        )
        session.add(row)
        session.flush()
        series_id = row.id
    else:
        series_id = series.id
    relative = f"{image.study_uid}/{image.series_uid}/{image.sop_uid}.dcm"
    undo = place_file(relative, image.data)
    instance_id = session.execute(
        _INSTANCE,
        {
            "sop_uid": image.sop_uid,
            "sop_class_uid": image.sop_class_uid,
            "series_id": series_id,
            "number": image.instance_number,
            "rows": image.rows,
            "columns": image.columns,
            "frames": image.frames,
            "transfer_syntax": image.transfer_syntax,
            "path": relative,
            "size_bytes": len(image.data),
            "sha256": hashlib.sha256(image.data).hexdigest(),
            "received_at": utcnow(),
            "received_from": received_from,
        },
    ).scalar_one()
    session.execute(_SERIES_COUNT, {"row_id": series_id})
    session.execute(_STUDY_COUNT, {"row_id": study.id, "new_series": int(new_series)})
    if order.status in RECEIVING:
        order.status, order.status_changed_at = "images_received", utcnow()
        order.status_changed_by = actor_name(actor)
    if audited:
        record_audits(
            session,
            [
                audit_row(
                    actor,
                    "imaging.image_stored",
                    patient_id=order.patient_id,
                    target_type="imaging_instance",
                    target_id=instance_id,
                    detail=f"{image.modality} {image.sop_class} {image.sop_uid} of study {image.study_uid}, "
                    f"accession {order.accession}, from {received_from}",
                )
            ],
        )
    return instance_id, undo

"""DICOMweb for the viewer (PS3.18): QIDO-RS searches, WADO-RS retrieval of instances, frames,
metadata and thumbnails, with the chart's permission (``imaging.read``) and its audit.

Rules written down:

* the permission is checked before any lookup, so a refusal says nothing about a UID; a UID that is
  not well formed is a ``ValidationError`` (400), one that is unknown a ``NotFound`` (404), and a
  portal user who does not own the study is told exactly what an unknown UID is told (``Withheld``);
* the audit trail gets one ``imaging.study.open`` row per study a user opens, not one per frame: a
  request writes it only when that user has no such row for the study within ``OPEN_WINDOW``;
* frames of uncompressed files are sliced from the file's pixel data bytes (the viewer's fast path);
  compressed frames are sent as stored when the client accepts that, else decoded with pydicom;
* a file's pixel layout and its metadata are cached per path and modification time.
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.encaps import generate_frames
from sqlalchemy import func, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import NotFound, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.radiology import ImagingInstance, ImagingSeries, ImagingStudy
from hms_app.models.security import AuditEvent
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize, authorize_owner
from hms_app.services.radiology.common import READ, dicom_root

OPEN = "imaging.study.open"
OPEN_WINDOW = timedelta(hours=1)
STUDY_MISSING = "That study does not exist."
SERIES_MISSING = "That series does not exist."
INSTANCE_MISSING = "That instance does not exist."
FRAME_MISSING = "That frame does not exist."
MAX_SEARCH = 200
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
THUMBNAIL_SIZE = 128
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
# The media type of a compressed frame sent as stored (PS3.18 table 8.7.3-2).
FRAME_MEDIA = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}


def check_uid(value: str) -> str:
    """A DICOM UID (PS3.5 9.1: digits and dots, at most 64 characters), or a ValidationError."""
    if not isinstance(value, str) or len(value) > 64 or not _UID.fullmatch(value):
        raise ValidationError("That is not a DICOM UID.")
    return value


def _attr(tag: str, vr: str, value) -> tuple[str, dict]:
    if value is None or value == "":
        return tag, {"vr": vr}
    if vr == "PN":
        return tag, {"vr": vr, "Value": [{"Alphabetic": value}]}
    return tag, {"vr": vr, "Value": list(value) if isinstance(value, list | tuple) else [value]}


def _dicom_name(patient: Patient) -> str:
    return "^".join(x for x in (patient.family_name, patient.given_name, patient.middle_name or "") if x)


# ---------------------------------------------------------------- lookups, permission and audit


def _study(session: Session, actor: Actor, study_uid: str) -> ImagingStudy:
    authorize(actor, READ)  # before the lookup: a role's refusal says nothing about the UID
    check_uid(study_uid)
    study = session.execute(
        select(ImagingStudy).where(ImagingStudy.study_uid == study_uid)
    ).scalar_one_or_none()
    if study is None:
        raise NotFound(STUDY_MISSING)
    authorize_owner(actor, READ, patient_id=study.patient_id, missing=STUDY_MISSING)
    return study


def _series(session: Session, study: ImagingStudy, series_uid: str) -> ImagingSeries:
    check_uid(series_uid)
    series = session.execute(
        select(ImagingSeries).where(
            ImagingSeries.series_uid == series_uid, ImagingSeries.study_id == study.id
        )
    ).scalar_one_or_none()
    if series is None:
        raise NotFound(SERIES_MISSING)
    return series


def _instance(session: Session, series: ImagingSeries, sop_uid: str) -> ImagingInstance:
    check_uid(sop_uid)
    instance = session.execute(
        select(ImagingInstance).where(
            ImagingInstance.sop_uid == sop_uid, ImagingInstance.series_id == series.id
        )
    ).scalar_one_or_none()
    if instance is None:
        raise NotFound(INSTANCE_MISSING)
    return instance


def _audit_open(session: Session, actor: Actor, study: ImagingStudy, *, always: bool = False) -> None:
    """One audit row per study a user opens: the viewer's hundreds of frame requests add none."""
    if not always:
        seen = session.execute(
            select(AuditEvent.id)
            .where(
                AuditEvent.user_id == actor.user_id,
                AuditEvent.occurred_at >= utcnow() - OPEN_WINDOW,
                AuditEvent.action == OPEN,
                AuditEvent.target_id == str(study.id),
            )
            .limit(1)
        ).first()
        if seen is not None:
            return
    record_audit(
        session,
        actor,
        OPEN,
        patient_id=study.patient_id,
        target_type="imaging_study",
        target_id=study.id,
        detail=study.study_uid,
    )
    session.commit()


def _file(instance: ImagingInstance) -> Path:
    root = dicom_root().resolve()
    path = (root / instance.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound("The image's file is missing; tell IT.")
    return path


# ---------------------------------------------------------------- QIDO-RS


def search_studies(
    session: Session, *, actor: Actor, filters: dict[str, str], limit: int = 50, offset: int = 0
) -> list[dict]:
    """Studies matching PatientID (the MRN), StudyInstanceUID, AccessionNumber, StudyDate
    (``YYYYMMDD`` or a ``-`` range) and ModalitiesInStudy; audited as one search."""
    authorize(actor, READ)
    query = select(ImagingStudy, Patient).join(Patient, Patient.id == ImagingStudy.patient_id)
    if actor.patient_id is not None:
        query = query.where(ImagingStudy.patient_id == actor.patient_id)
    value = filters.get("StudyInstanceUID") or filters.get("0020000D")
    if value:
        query = query.where(ImagingStudy.study_uid.in_([check_uid(v) for v in value.split(",")]))
    if value := filters.get("PatientID") or filters.get("00100020"):
        query = query.where(Patient.mrn == value)
    if value := filters.get("AccessionNumber") or filters.get("00080050"):
        query = query.where(ImagingStudy.accession == value)
    if value := filters.get("ModalitiesInStudy") or filters.get("00080061"):
        query = query.where(ImagingStudy.modalities.contains(value))
    if value := filters.get("StudyDate") or filters.get("00080020"):
        low, _, high = value.partition("-") if "-" in value else (value, "", value)
        for part in (low, high):
            if part and not re.fullmatch(r"\d{8}", part):
                raise ValidationError("StudyDate is YYYYMMDD or a range YYYYMMDD-YYYYMMDD.")
        if low:
            query = query.where(ImagingStudy.study_date >= low)
        if high:
            query = query.where(ImagingStudy.study_date <= high)
    limit = max(1, min(int(limit), MAX_SEARCH))
    rows = session.execute(
        query.order_by(ImagingStudy.study_date.desc(), ImagingStudy.id.desc())
        .limit(limit)
        .offset(max(0, offset))
    ).all()
    record_audit(
        session, actor, "imaging.study.search", detail=", ".join(f"{k}={v}" for k, v in filters.items())
    )
    session.commit()
    return [
        dict(
            [
                _attr("00080005", "CS", "ISO_IR 192"),
                _attr("00080020", "DA", study.study_date),
                _attr("00080050", "SH", study.accession),
                _attr("00080061", "CS", [m for m in study.modalities.split("|") if m]),
                _attr("00081030", "LO", study.description),
                _attr("00100010", "PN", _dicom_name(patient)),
                _attr("00100020", "LO", patient.mrn),
                _attr("00100030", "DA", patient.birth_date.strftime("%Y%m%d")),
                _attr("00100040", "CS", {"male": "M", "female": "F"}.get(patient.sex, "O")),
                _attr("0020000D", "UI", study.study_uid),
                _attr("00201206", "IS", study.series_count),
                _attr("00201208", "IS", study.instance_count),
            ]
        )
        for study, patient in rows
    ]


def search_series(session: Session, *, actor: Actor, study_uid: str) -> list[dict]:
    """The series of a study, by series number."""
    study = _study(session, actor, study_uid)
    rows = session.execute(
        select(ImagingSeries)
        .where(ImagingSeries.study_id == study.id)
        .order_by(ImagingSeries.number, ImagingSeries.id)
    ).scalars()
    found = [
        dict(
            [
                _attr("00080060", "CS", s.modality),
                _attr("0008103E", "LO", s.description),
                _attr("00180015", "CS", s.body_part),
                _attr("0020000D", "UI", study.study_uid),
                _attr("0020000E", "UI", s.series_uid),
                _attr("00200011", "IS", s.number),
                _attr("00201209", "IS", s.instance_count),
            ]
        )
        for s in rows
    ]
    _audit_open(session, actor, study)
    return found


def search_instances(session: Session, *, actor: Actor, study_uid: str, series_uid: str) -> list[dict]:
    """The instances of a series in scroll order (InstanceNumber)."""
    study = _study(session, actor, study_uid)
    series = _series(session, study, series_uid)
    rows = session.execute(
        select(ImagingInstance)
        .where(ImagingInstance.series_id == series.id)
        .order_by(ImagingInstance.number, ImagingInstance.id)
    ).scalars()
    found = [
        dict(
            [
                _attr("00080016", "UI", i.sop_class_uid),
                _attr("00080018", "UI", i.sop_uid),
                _attr("00083002", "UI", i.transfer_syntax),
                _attr("0020000D", "UI", study.study_uid),
                _attr("0020000E", "UI", series.series_uid),
                _attr("00200013", "IS", i.number),
                _attr("00280008", "IS", i.frames),
                _attr("00280010", "US", i.rows),
                _attr("00280011", "US", i.columns),
            ]
        )
        for i in rows
    ]
    _audit_open(session, actor, study)
    return found


# ---------------------------------------------------------------- WADO-RS


def instance_path(session: Session, *, actor: Actor, study_uid: str, series_uid: str, sop_uid: str) -> Path:
    """The stored file of one instance (sent as it was received)."""
    study = _study(session, actor, study_uid)
    instance = _instance(session, _series(session, study, series_uid), sop_uid)
    path = _file(instance)
    _audit_open(session, actor, study)
    return path


@functools.lru_cache(maxsize=4096)
def _instance_json(path: str, _mtime: int) -> dict:
    dataset = pydicom.dcmread(path, stop_before_pixels=True)
    body = dataset.to_json_dict(bulk_data_threshold=4096, bulk_data_element_handler=lambda _element: "")
    for element in list(body.values()):
        if element.get("BulkDataURI") == "":
            element.pop("BulkDataURI")  # large private blobs: not retrievable here, so not offered
    body["00083002"] = {"vr": "UI", "Value": [str(dataset.file_meta.TransferSyntaxUID)]}
    return body


def retrieve_metadata(
    session: Session,
    *,
    actor: Actor,
    study_uid: str,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    base_url: str = "",
) -> list[dict]:
    """The metadata (DICOM JSON, without pixel data) of a study's, a series' or one instance's files;
    PixelData carries a BulkDataURI to the instance's frames."""
    study = _study(session, actor, study_uid)
    query = (
        select(ImagingInstance, ImagingSeries.series_uid)
        .join(ImagingSeries, ImagingSeries.id == ImagingInstance.series_id)
        .where(ImagingSeries.study_id == study.id)
        .order_by(ImagingSeries.number, ImagingInstance.number, ImagingInstance.id)
    )
    if series_uid is not None:
        series = _series(session, study, series_uid)
        query = query.where(ImagingInstance.series_id == series.id)
        if sop_uid is not None:
            query = query.where(ImagingInstance.id == _instance(session, series, sop_uid).id)
    rows = session.execute(query).all()
    _audit_open(session, actor, study)
    found = []
    for instance, uid in rows:
        path = _file(instance)
        body = dict(_instance_json(str(path), path.stat().st_mtime_ns))
        if "7FE00010" not in body:
            url = f"{base_url}/studies/{study.study_uid}/series/{uid}/instances/{instance.sop_uid}/frames/1"
            body["7FE00010"] = {"vr": "OW", "BulkDataURI": url}
        found.append(body)
    return found


@dataclass(frozen=True)
class PixelLayout:
    transfer_syntax: str
    frames: int
    offset: int  # where the pixel data's value starts in the file
    frame_bytes: int  # of one native frame; 0 when encapsulated or not byte-aligned (decode instead)


@functools.lru_cache(maxsize=4096)
def _layout(path: str, _mtime: int) -> PixelLayout:
    dataset = pydicom.dcmread(path, defer_size=1024)
    element = dataset.get_item(0x7FE00010)
    if element is None:
        raise NotFound("That instance has no image.")
    syntax = str(dataset.file_meta.TransferSyntaxUID)
    frames = int(dataset.get("NumberOfFrames") or 1)
    frame_bytes = 0
    deferred = isinstance(element, RawDataElement) and element.value is None
    if deferred and syntax in (EXPLICIT_LE, IMPLICIT_LE) and dataset.get("BitsAllocated", 0) % 8 == 0:
        per_pixel = int(dataset.BitsAllocated) // 8 * int(dataset.get("SamplesPerPixel", 1))
        frame_bytes = int(dataset.Rows) * int(dataset.Columns) * per_pixel
        if dataset.get("PhotometricInterpretation") == "YBR_FULL_422":
            frame_bytes = frame_bytes * 2 // 3  # two luminance samples share one pair of chroma
        if frame_bytes * frames > element.length:
            frame_bytes = 0
    offset = element.value_tell if isinstance(element, RawDataElement) else 0
    return PixelLayout(syntax, frames, offset, frame_bytes)


@dataclass(frozen=True)
class Frame:
    data: bytes
    transfer_syntax: str  # of ``data``
    media_type: str  # application/octet-stream, or the compressed format's


def retrieve_frames(
    session: Session,
    *,
    actor: Actor,
    study_uid: str,
    series_uid: str,
    sop_uid: str,
    numbers: list[int],
    accept_stored: bool = False,
) -> list[Frame]:
    """Frames (1-based) of one instance: native little-endian pixel bytes, or, when the client
    accepts the stored transfer syntax (``accept_stored``), compressed frames as stored."""
    study = _study(session, actor, study_uid)
    instance = _instance(session, _series(session, study, series_uid), sop_uid)
    path = _file(instance)
    layout = _layout(str(path), path.stat().st_mtime_ns)
    if not numbers or any(n < 1 or n > layout.frames for n in numbers):
        raise NotFound(FRAME_MISSING)
    _audit_open(session, actor, study)
    session.rollback()  # the file is read with no transaction open
    if layout.frame_bytes:
        with path.open("rb") as file:
            found = []
            for number in numbers:
                file.seek(layout.offset + (number - 1) * layout.frame_bytes)
                found.append(
                    Frame(file.read(layout.frame_bytes), layout.transfer_syntax, "application/octet-stream")
                )
            return found
    if accept_stored and layout.transfer_syntax in FRAME_MEDIA:
        pixels = pydicom.dcmread(path).PixelData
        fragments = list(generate_frames(pixels, number_of_frames=layout.frames))
        media = FRAME_MEDIA[layout.transfer_syntax]
        return [Frame(fragments[n - 1], layout.transfer_syntax, media) for n in numbers]
    return [Frame(_decoded(path, n - 1), EXPLICIT_LE, "application/octet-stream") for n in numbers]


def _decoded(path: Path, index: int) -> bytes:
    """One frame decoded by pydicom, as little-endian native bytes (colour as RGB)."""
    from pydicom.pixels import pixel_array

    array = pixel_array(str(path), index=index)
    return np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False)).tobytes()


def series_thumbnail(session: Session, *, actor: Actor, study_uid: str, series_uid: str) -> bytes:
    """A PNG of the series' middle image, windowed and scaled to fit THUMBNAIL_SIZE."""
    from PIL import Image
    from pydicom.pixels import apply_rescale, pixel_array

    study = _study(session, actor, study_uid)
    series = _series(session, study, series_uid)
    count = session.scalar(select(func.count()).where(ImagingInstance.series_id == series.id)) or 0
    instance = session.execute(
        select(ImagingInstance)
        .where(ImagingInstance.series_id == series.id)
        .order_by(ImagingInstance.number, ImagingInstance.id)
        .offset(count // 2)
        .limit(1)
    ).scalar_one_or_none()
    if instance is None:
        raise NotFound(SERIES_MISSING)
    path = _file(instance)
    _audit_open(session, actor, study)
    session.rollback()
    dataset = pydicom.dcmread(path)
    array = pixel_array(dataset, index=0)
    if array.ndim == 2:
        values = apply_rescale(array, dataset).astype(np.float64)
        low, high = np.percentile(values, (1, 99)) if values.size else (0.0, 1.0)
        if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
            values = high + low - values
        scaled = np.clip((values - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)
        image = Image.fromarray(scaled, mode="L")
    else:
        image = Image.fromarray(array[..., :3].astype(np.uint8), mode="RGB")
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# ---------------------------------------------------------------- the viewer's screen


@dataclass(frozen=True)
class SeriesEntry:
    series_uid: str
    modality: str
    number: int | None
    description: str
    instance_count: int
    frames: int  # of the first instance: above 1 is a cine loop


@dataclass(frozen=True)
class OpenedStudy:
    id: int
    study_uid: str
    patient_id: int
    patient_name: str
    mrn: str
    birth_date: str
    sex: str
    accession: str
    study_date: str
    description: str
    series: tuple[SeriesEntry, ...]


def open_study(session: Session, *, actor: Actor, study_id: int) -> OpenedStudy:
    """A study for the viewer: its patient's banner and its series; audited as opened."""
    authorize(actor, READ)
    study = session.get(ImagingStudy, int(study_id))
    if study is None:
        raise NotFound(STUDY_MISSING)
    authorize_owner(actor, READ, patient_id=study.patient_id, missing=STUDY_MISSING)
    patient = session.get(Patient, study.patient_id)
    first_frames = (
        select(ImagingInstance.frames)
        .where(ImagingInstance.series_id == ImagingSeries.id)
        .order_by(ImagingInstance.number, ImagingInstance.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(ImagingSeries, first_frames)
        .where(ImagingSeries.study_id == study.id)
        .order_by(ImagingSeries.number, ImagingSeries.id)
    ).all()
    opened = OpenedStudy(
        id=study.id,
        study_uid=study.study_uid,
        patient_id=patient.id,
        patient_name=" ".join(x for x in (patient.given_name, patient.middle_name, patient.family_name) if x),
        mrn=patient.mrn,
        birth_date=patient.birth_date.isoformat(),
        sex=patient.sex,
        accession=study.accession or "",
        study_date=study.study_date or "",
        description=study.description or "",
        series=tuple(
            SeriesEntry(
                s.series_uid, s.modality, s.number, s.description or "", s.instance_count, frames or 1
            )
            for s, frames in rows
        ),
    )
    _audit_open(session, actor, study, always=True)
    return opened

"""DICOM images in: one file (from ``hms dicom import`` or a modality's C-STORE) read, checked,
matched to its imaging order and patient, kept once, and audited.

Rules written down:

* a file is read with pydicom; one that is not DICOM, is cut short (an element or the pixel data
  shorter than its declared length, encapsulated pixel data without its end), is larger than
  ``MAX_FILE_BYTES``, lacks one of its four UIDs or carries a UID that is not digits and dots of
  at most 64 characters is **refused** with the reason, and nothing is written;
* the file is grouped by its UIDs: study (0020,000D), series (0020,000E), instance (0008,0018),
  and kept at ``dicom_root()/<study>/<series>/<sop>.dcm``, a path built from validated UIDs only
  (a crafted UID cannot leave the root), outside the public upload folder;
* a SOP Instance UID already kept (filed or unmatched) is a **duplicate**: nothing is written
  (a modality sending a study again, an import run twice);
* the order is the one whose accession number is the file's AccessionNumber (0008,0050), and the
  file's PatientID (0010,0020) must be that order's patient's MRN; a file without an accession,
  with one no order has, or of another patient goes to the **unmatched** images for a person to
  file, never to a chart; so does a file whose study UID is already filed to another patient;
* the first images of an order at scheduled, arrived or in progress move it to images received;
* ``preview``: the file has pixel data that the installed decoders (pydicom's own for native
  data; pylibjpeg, its libjpeg, OpenJPEG and RLE plug-ins, or Pillow for compressed data) turn
  into an image; a file without a preview is still kept.

Every file kept (filed or unmatched) is one audit row, in the transaction that records it; the
file is on disk before that commit, so a recorded instance always has its file. Filing to an order
is ``filing.file_image``, shared with the unmatched images' list (``unmatched.file_study``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import bindparam, literal, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.models.patients import Patient
from hms_app.models.radiology import ImagingInstance, ImagingOrder, UnmatchedImage
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.radiology.common import TOPIC, WORK
from hms_app.services.radiology.filing import Refused, file_image, place_file

MAX_FILE_BYTES = 512 * 1024 * 1024  # one file (a long multi-frame cine is a few hundred MB)
UID = re.compile(r"[0-9]+(?:\.[0-9]+)*")
UID_MAX = 64
UNMATCHED_DIR = "unmatched"
UNMATCHED_KEY = "unmatched"  # the live key of the unmatched images' list
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage
UNDEFINED_LENGTH = 0xFFFFFFFF
DEFAULT_TRANSFER_SYNTAX = "1.2.840.10008.1.2"  # implicit VR little endian
JSON_FIELDS = (
    "path",
    "status",
    "modality",
    "sop_class",
    "rows",
    "columns",
    "frames",
    "patient_id",
    "study_date",
    "preview",
)


@dataclass(frozen=True)
class IngestResult:
    """What became of one file; ``as_json()`` is the import's output line."""

    path: str  # the file imported, or "<ae title>" for a C-STORE
    status: str  # stored | duplicate | unmatched | refused
    modality: str | None = None
    sop_class: str | None = None  # its name ("CT Image Storage"), or the UID when pydicom has none
    rows: int | None = None
    columns: int | None = None
    frames: int | None = None
    patient_id: str | None = None  # the file's PatientID (0010,0020): the MRN it claims
    study_date: str | None = None  # YYYYMMDD
    preview: bool = False
    reason: str | None = None  # refused: why; unmatched: UNMATCHED_REASONS key; duplicate: of what
    sop_uid: str | None = None
    study_uid: str | None = None
    order_id: int | None = None  # stored: the order it was filed to
    instance_id: int | None = None  # stored: the imaging_instance row
    unmatched_id: int | None = None  # unmatched: the unmatched_image row

    def as_json(self) -> dict:
        line = {name: getattr(self, name) for name in JSON_FIELDS}
        if self.reason is not None:
            line["reason"] = self.reason
        return line


@dataclass
class DicomFile:
    """What a file says about itself, checked."""

    data: bytes
    sop_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax: str
    modality: str
    accession: str
    patient_key: str  # PatientID
    patient_name: str
    study_date: str | None
    study_description: str | None
    series_number: int | None
    series_description: str | None
    body_part: str | None
    instance_number: int | None
    rows: int | None
    columns: int | None
    frames: int  # 0: no pixel data
    preview: bool = False
    sop_class: str = field(init=False)

    def __post_init__(self) -> None:
        from pydicom.uid import UID as PydicomUID

        name = PydicomUID(self.sop_class_uid).name
        self.sop_class = name if name and name != self.sop_class_uid else self.sop_class_uid

    def result(self, path: str, status: str, **more) -> IngestResult:
        return IngestResult(
            path=path,
            status=status,
            modality=self.modality,
            sop_class=self.sop_class,
            rows=self.rows,
            columns=self.columns,
            frames=self.frames,
            patient_id=self.patient_key or None,
            study_date=self.study_date,
            preview=self.preview,
            sop_uid=self.sop_uid,
            study_uid=self.study_uid,
            **more,
        )


# --------------------------------------------------------------------------- reading


def _text(dataset, keyword: str, length: int) -> str:
    try:
        value = dataset.get(keyword)
    except Exception:  # noqa: BLE001 - a malformed optional value is treated as absent
        return ""
    return " ".join(str(value or "").replace("^", " ").split())[:length]


def _number(dataset, keyword: str) -> int | None:
    try:
        value = dataset.get(keyword)
        return None if value in (None, "") else int(value)
    except Exception:  # noqa: BLE001 - an unreadable optional number is treated as absent
        return None


def _uid(dataset, keyword: str, label: str) -> str:
    value = str(dataset.get(keyword) or "").strip().rstrip("\x00")
    if not value:
        raise Refused(f"missing {label}: not a complete DICOM object")
    if len(value) > UID_MAX or not UID.fullmatch(value):
        raise Refused(f"invalid {label} {value[:70]!r}: a DICOM UID is digits and dots, {UID_MAX} at most")
    return value


def _check_complete(dataset) -> None:
    """Refuse a file cut short: pydicom reads what there is without complaint."""
    for tag in list(dataset._dict):  # the raw elements, before any value is converted
        element = dataset._dict[tag]
        length, value = getattr(element, "length", None), getattr(element, "value", None)
        if (
            length is not None
            and length != UNDEFINED_LENGTH
            and isinstance(value, bytes | bytearray)
            and len(value) < length
        ):
            raise Refused(f"truncated: element {element.tag} has {len(value):,} of its {length:,} bytes")


def _expected_pixel_bytes(dataset, frames: int) -> int | None:
    try:
        bits = int(dataset.BitsAllocated)
        samples = int(dataset.get("SamplesPerPixel") or 1)
        pixels = int(dataset.Rows) * int(dataset.Columns) * samples * frames
    except Exception:  # noqa: BLE001 - no pixel module: nothing to compare with
        return None
    return (pixels * bits + 7) // 8


def _preview(dataset, transfer_syntax) -> bool:
    """Whether the first frame decodes with the plug-ins installed."""
    if "PixelData" not in dataset:
        return False
    try:
        from pydicom.pixels import get_decoder

        get_decoder(transfer_syntax).as_array(dataset, index=0)
    except Exception:  # noqa: BLE001 - any decoder failure only means no preview
        return False
    return True


def read_dicom(data: bytes) -> DicomFile:
    """Read and check one DICOM Part 10 file; raise Refused with the reason."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError
    from pydicom.uid import UID as PydicomUID

    if not data:
        raise Refused("empty file")
    if len(data) > MAX_FILE_BYTES:
        raise Refused(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the limit per file")
    try:
        dataset = dcmread(io.BytesIO(data))
    except InvalidDicomError:
        raise Refused("not a DICOM file (no 'DICM' marker after the 128-byte preamble)") from None
    except Exception as error:  # noqa: BLE001 - pydicom's many ways of failing on bad bytes
        raise Refused(f"cannot be read as DICOM: {_short(error)}") from None
    if len(dataset) == 0:
        # What pydicom makes of a file cut inside encapsulated pixel data, or right after its header.
        raise Refused("truncated: no data elements could be read after the file meta information")
    try:
        _check_complete(dataset)
        sop_class_uid = _uid(dataset, "SOPClassUID", "SOP Class UID (0008,0016)")
        if sop_class_uid == DICOMDIR_CLASS:
            raise Refused("a DICOMDIR is an index of files, not an object to store: import its folder")
        meta = getattr(dataset, "file_meta", None)
        transfer_syntax = str(
            (meta.get("TransferSyntaxUID") if meta is not None else None) or DEFAULT_TRANSFER_SYNTAX
        )
        if len(transfer_syntax) > UID_MAX or not UID.fullmatch(transfer_syntax):
            raise Refused("invalid transfer syntax UID in the file meta information")
        # A frame count for pixel data only: a structured report or an RT plan has none.
        frames = (_number(dataset, "NumberOfFrames") or 1) if "PixelData" in dataset else 0
        syntax = PydicomUID(transfer_syntax)
        if "PixelData" in dataset and syntax.is_transfer_syntax and not syntax.is_encapsulated:
            expected = _expected_pixel_bytes(dataset, frames)
            actual = len(dataset._dict[0x7FE00010].value or b"")
            if expected is not None and actual < expected:
                raise Refused(
                    f"truncated: the pixel data has {actual:,} bytes, its rows × columns × frames need {expected:,}"
                )
        study_date = _text(dataset, "StudyDate", 8)
        parsed = DicomFile(
            data=data,
            sop_uid=_uid(dataset, "SOPInstanceUID", "SOP Instance UID (0008,0018)"),
            sop_class_uid=sop_class_uid,
            study_uid=_uid(dataset, "StudyInstanceUID", "Study Instance UID (0020,000D)"),
            series_uid=_uid(dataset, "SeriesInstanceUID", "Series Instance UID (0020,000E)"),
            transfer_syntax=transfer_syntax,
            modality=_text(dataset, "Modality", 16).upper() or "OT",
            accession=_text(dataset, "AccessionNumber", 64),
            patient_key=_text(dataset, "PatientID", 64),
            patient_name=_text(dataset, "PatientName", 120),
            study_date=study_date if re.fullmatch(r"\d{8}", study_date) else None,
            study_description=_text(dataset, "StudyDescription", 120) or None,
            series_number=_number(dataset, "SeriesNumber"),
            series_description=_text(dataset, "SeriesDescription", 120) or None,
            body_part=_text(dataset, "BodyPartExamined", 40) or None,
            instance_number=_number(dataset, "InstanceNumber"),
            rows=_number(dataset, "Rows"),
            columns=_number(dataset, "Columns"),
            frames=frames,
        )
    except Refused:
        raise
    except Exception as error:  # noqa: BLE001 - a header pydicom cannot convert
        raise Refused(f"cannot be read as DICOM: {_short(error)}") from None
    parsed.preview = _preview(dataset, syntax)
    return parsed


def _short(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]


# --------------------------------------------------------------------------- writing


# Built once: for an image of a few kilobytes, constructing the statements would cost more than
# running them.
_KEPT = (
    select(literal("already stored"))
    .where(ImagingInstance.sop_uid == bindparam("sop_uid"))
    .union_all(
        select(literal("already among the unmatched images")).where(
            UnmatchedImage.sop_uid == bindparam("sop_uid")
        )
    )
)
_ORDER = (
    select(ImagingOrder, Patient.mrn)
    .join(Patient, Patient.id == ImagingOrder.patient_id)
    .where(ImagingOrder.accession == bindparam("accession"))
    .with_for_update(of=ImagingOrder)
)


def _already_kept(session: Session, sop_uid: str) -> str | None:
    return session.execute(_KEPT, {"sop_uid": sop_uid}).scalar()


def _match(session: Session, image: DicomFile) -> tuple[ImagingOrder | None, str | None]:
    """The order the file belongs to, or why it belongs to none (an UNMATCHED_REASONS key)."""
    if not image.accession:
        return None, "no_accession"
    row = session.execute(_ORDER, {"accession": image.accession}).first()
    if row is None:
        return None, "no_order"
    order, mrn = row
    if image.patient_key.upper() != (mrn or "").strip().upper():
        return None, "patient_mismatch"
    return order, None


def _set_aside(
    session: Session, actor: Actor, image: DicomFile, reason: str, received_from: str
) -> tuple[UnmatchedImage, Callable[[], None]]:
    relative = f"{UNMATCHED_DIR}/{image.sop_uid}.dcm"
    undo = place_file(relative, image.data)
    row = UnmatchedImage(
        sop_uid=image.sop_uid,
        study_uid=image.study_uid,
        series_uid=image.series_uid,
        accession=image.accession[:16] or None,
        patient_key=image.patient_key or None,
        patient_name=image.patient_name or None,
        modality=image.modality[:4],
        reason=reason,
        path=relative,
        size_bytes=len(image.data),
        received_from=received_from,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor,
        "imaging.image_unmatched",
        target_type="unmatched_image",
        target_id=row.id,
        detail=f"{image.modality} {image.sop_uid} of study {image.study_uid} set aside ({reason}): "
        f"accession {image.accession or '(none)'}, patient id {image.patient_key or '(none)'}, "
        f"from {received_from}",
    )
    return row, undo


def store_dicom(
    session: Session,
    *,
    actor: Actor,
    data: bytes,
    source: str,
    received_from: str = "import",
    notify: Callable[[str, object], None] | None = None,
) -> IngestResult:
    """Read one DICOM file's bytes and keep it: filed to its order, set aside as unmatched, or
    not at all (a duplicate, or refused with the reason). Commits what it keeps."""
    authorize(actor, WORK)
    received_from = " ".join(received_from.split())[:60] or "unknown"
    try:
        image = read_dicom(data)
    except Refused as refusal:
        return IngestResult(path=source, status="refused", reason=str(refusal))
    for attempt in range(3):
        try:
            return _keep(session, actor, image, source, received_from, notify or live.publish)
        except IntegrityError:
            # Another sender kept the same UIDs first: look again, it is now a duplicate or
            # its study and series exist.
            session.rollback()
            if attempt == 2:
                raise
        except Refused as refusal:
            session.rollback()
            return image.result(source, "refused", reason=str(refusal))
    raise AssertionError("unreachable")


def _keep(
    session: Session,
    actor: Actor,
    image: DicomFile,
    source: str,
    received_from: str,
    notify: Callable[[str, object], None],
) -> IngestResult:
    duplicate = _already_kept(session, image.sop_uid)
    if duplicate:
        session.rollback()
        return image.result(source, "duplicate", reason=f"SOP Instance UID {duplicate}")
    order, reason = _match(session, image)
    undo = None
    try:
        if order is not None:
            filed = file_image(session, actor, image, order, received_from)
            if isinstance(filed, str):
                reason = filed
            else:
                instance_id, undo = filed
                session.commit()
                notify(TOPIC, order.id)
                return image.result(source, "stored", order_id=order.id, instance_id=instance_id)
        row, undo = _set_aside(session, actor, image, reason, received_from)
        session.commit()
    except IntegrityError:
        # The same SOP Instance UID was just kept by another sender: the file now on disk is its.
        raise
    except BaseException:
        if undo is not None:
            undo()
        raise
    notify(TOPIC, UNMATCHED_KEY)
    return image.result(source, "unmatched", reason=reason, unmatched_id=row.id)


def store_dicom_file(
    session: Session,
    *,
    actor: Actor,
    path: Path,
    received_from: str = "import",
    notify: Callable[[str, object], None] | None = None,
) -> IngestResult:
    """``store_dicom`` for a file on disk (``hms dicom import``); a file that cannot be read is refused."""
    authorize(actor, WORK)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise Refused(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the limit per file")
        data = path.read_bytes()
    except Refused as refusal:
        return IngestResult(path=source, status="refused", reason=str(refusal))
    except OSError as error:
        return IngestResult(path=source, status="refused", reason=f"cannot read: {error.strerror or error}")
    return store_dicom(
        session, actor=actor, data=data, source=source, received_from=received_from, notify=notify
    )

"""A radiology department with two patients and imaging orders, and DICOM files made from pydicom's
own test images (none of a real patient) with the patient, accession and UIDs a test asks for."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.radiology import ImagingOrder, ImagingProcedure
from tests.services.lab_world import _patient, role_actor, years_ago


@dataclass
class DicomWorld:
    procedure: int
    patient: int
    mrn: str
    other: int
    other_mrn: str
    physician: object
    radiographer: object
    nurse: object


def build_dicom_world(session) -> DicomWorld:
    rad = Department(code="RAD", name="Radiology", kind="diagnostic")
    gen = Department(code="GEN", name="General Medicine")
    session.add_all([rad, gen])
    session.flush()
    procedure = ImagingProcedure(
        code="IMG-CT-HEAD", name="CT head without contrast", modality="CT", body_part="HEAD"
    )
    session.add(procedure)
    session.flush()
    patient = _patient(session, "Rae", "Diology", "female", years_ago(60))
    other = _patient(session, "Otto", "Other", "male", years_ago(40))
    world = DicomWorld(
        procedure=procedure.id,
        patient=patient,
        mrn=session.get(Patient, patient).mrn,
        other=other,
        other_mrn=session.get(Patient, other).mrn,
        physician=role_actor(session, "dr.order", "physician", gen.id),
        radiographer=role_actor(session, "rad.tech", "radiographer", rad.id),
        nurse=role_actor(session, "nurse.w", "nurse", gen.id),
    )
    session.commit()
    return world


def an_order(session, world: DicomWorld, accession: str, *, patient=None, status="scheduled") -> int:
    order = ImagingOrder(
        accession=accession, patient_id=patient or world.patient, procedure_id=world.procedure,
        clinical_question="Fall: bleed?", status=status,
        ordered_by_id=world.physician.user_id, ordered_by="dr.order",
    )  # fmt: skip
    session.add(order)
    session.commit()
    return order.id


def dicom_bytes(
    source: str = "CT_small.dcm",
    *,
    patient_id: str | None = None,
    accession: str | None = None,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    number: int | None = None,
) -> bytes:
    """One of pydicom's test files, given the patient id, accession and UIDs asked for (new UIDs
    when not asked: every call is a new instance of a new series of a new study)."""
    dataset = dcmread(get_testdata_file(source))
    with warnings.catch_warnings():  # a test may ask for a UID that is not one
        warnings.simplefilter("ignore")
        return _with(dataset, patient_id, accession, study_uid, series_uid, sop_uid, number)


def _with(dataset, patient_id, accession, study_uid, series_uid, sop_uid, number) -> bytes:
    dataset.PatientID = patient_id or ""
    dataset.AccessionNumber = accession or ""
    dataset.StudyInstanceUID = study_uid or generate_uid()
    dataset.SeriesInstanceUID = series_uid or generate_uid()
    dataset.SOPInstanceUID = sop_uid or generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    if number is not None:
        dataset.InstanceNumber = number
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()

"""DICOM images on disk and in the database, for tests and benchmarks that need a study to look at.

Files go under ``dicom_root()`` (the configured data directory) at
``<study_uid>/<series_uid>/<sop_uid>.dcm`` and the rows are inserted directly, as the storage
service would leave them, so that nothing here depends on how images arrive.

* ``demo_study``: one study of five series, each a case the viewer must draw: a CT slice with a
  rescale intercept (pydicom's CT_small), an MR slice, an RGB ultrasound, an 8-bit multi-frame
  cine loop, and an RLE-compressed MR (decoded on the server).
* ``ct_study``: a synthetic CT series of ``slices`` images of ``size`` x ``size`` (signed 16-bit,
  slope 1, intercept -1024): a body of water with lungs and a spine, for the viewer's window
  presets and the frame benchmark.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from hms_app.models.radiology import ImagingInstance, ImagingSeries, ImagingStudy
from hms_app.services import patients
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.radiology.common import dicom_root

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"


@dataclass(frozen=True)
class StoredStudy:
    id: int
    study_uid: str
    patient_id: int
    series_uids: tuple[str, ...]
    sop_uids: tuple[tuple[str, ...], ...]  # per series, in instance order


def a_patient(session, *, given: str = "Iris", family: str = "Imaging") -> int:
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": given, "family_name": family, "sex": "female", "birth_date": "1968-03-14"},
    )
    return patient.id


def _uid(seed: str) -> str:
    return generate_uid(entropy_srcs=[seed])


def _file_meta(dataset: Dataset, syntax: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    dataset.file_meta = meta


def store_study(
    session, *, patient_id: int, series: list[list[Dataset]], seed: str, description: str
) -> StoredStudy:
    """Give ``series`` (lists of datasets) fresh UIDs in one study, write them, insert their rows."""
    study_uid = _uid(f"{seed}-study")
    study = ImagingStudy(
        study_uid=study_uid,
        patient_id=patient_id,
        accession=f"ACC{int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 10**8:08d}",
        study_date=date(2026, 12, 6).strftime("%Y%m%d"),
        description=description,
        modalities="|".join(sorted({s[0].Modality for s in series})),
        series_count=len(series),
        instance_count=sum(len(s) for s in series),
    )
    session.add(study)
    session.flush()
    series_uids, sop_uids = [], []
    for number, datasets in enumerate(series, start=1):
        series_uid = _uid(f"{seed}-series-{number}")
        row = ImagingSeries(
            series_uid=series_uid,
            study_id=study.id,
            modality=datasets[0].Modality,
            number=number,
            description=str(datasets[0].get("SeriesDescription", "")) or None,
            body_part=str(datasets[0].get("BodyPartExamined", "")) or None,
            instance_count=len(datasets),
        )
        session.add(row)
        session.flush()
        uids = []
        for index, dataset in enumerate(datasets, start=1):
            sop_uid = _uid(f"{seed}-instance-{number}-{index}")
            dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID = (
                study_uid,
                series_uid,
                sop_uid,
            )
            dataset.SeriesNumber, dataset.InstanceNumber = number, index
            dataset.file_meta.MediaStorageSOPInstanceUID = sop_uid
            relative = f"{study_uid}/{series_uid}/{sop_uid}.dcm"
            path = dicom_root() / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            dataset.save_as(path, enforce_file_format=True)
            content = path.read_bytes()
            session.add(
                ImagingInstance(
                    sop_uid=sop_uid,
                    sop_class_uid=str(dataset.SOPClassUID),
                    series_id=row.id,
                    number=index,
                    rows=int(dataset.Rows),
                    columns=int(dataset.Columns),
                    frames=int(dataset.get("NumberOfFrames") or 1),
                    transfer_syntax=str(dataset.file_meta.TransferSyntaxUID),
                    path=relative,
                    size_bytes=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                    received_from="test",
                )
            )
            uids.append(sop_uid)
        series_uids.append(series_uid)
        sop_uids.append(tuple(uids))
    session.commit()
    return StoredStudy(study.id, study_uid, patient_id, tuple(series_uids), tuple(sop_uids))


def _testdata(name: str, description: str) -> Dataset:
    dataset = pydicom.dcmread(get_testdata_file(name, download=False))
    dataset.SeriesDescription = description
    return dataset


def cine_loop(frames: int = 12, size: int = 96) -> Dataset:
    """An 8-bit monochrome multi-frame ultrasound: a bright disc that moves frame by frame."""
    y, x = np.mgrid[0:size, 0:size]
    pixels = np.zeros((frames, size, size), dtype=np.uint8)
    for frame in range(frames):
        cx = size * (0.25 + 0.5 * frame / max(frames - 1, 1))
        pixels[frame] = np.where((x - cx) ** 2 + (y - size / 2) ** 2 < (size / 6) ** 2, 220, 40)
    dataset = _image(pixels, modality="US", sop_class=US_MULTIFRAME, description="Cine loop")
    dataset.NumberOfFrames = frames
    dataset.FrameTime = 80
    return dataset


def _image(pixels: np.ndarray, *, modality: str, sop_class: str, description: str) -> Dataset:
    dataset = Dataset()
    dataset.SOPClassUID = sop_class
    dataset.SOPInstanceUID = generate_uid()
    _file_meta(dataset, ExplicitVRLittleEndian)
    dataset.Modality = modality
    dataset.PatientName, dataset.PatientID = "Imaging^Iris", "TEST"
    dataset.SeriesDescription = description
    dataset.Rows, dataset.Columns = pixels.shape[-2], pixels.shape[-1]
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = pixels.dtype.itemsize * 8
    dataset.HighBit = dataset.BitsStored - 1
    dataset.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    dataset.PixelData = pixels.tobytes()
    return dataset


def ct_slice(index: int, count: int, size: int = 512) -> Dataset:
    """One axial slice of a synthetic chest: air -1000 HU, soft tissue 40, lungs -800, spine 700."""
    y, x = np.mgrid[0:size, 0:size] / size - 0.5
    hu = np.full((size, size), -1000, dtype=np.int16)
    hu[(x / 0.42) ** 2 + (y / 0.32) ** 2 < 1] = 40
    shift = 0.02 * np.sin(index / max(count, 1) * np.pi)
    for side in (-1, 1):
        hu[((x - side * (0.17 + shift)) / 0.13) ** 2 + (y / 0.22) ** 2 < 1] = -800
    hu[(x**2 + (y - 0.2) ** 2) < 0.045**2] = 700
    stored = (hu + 1024).astype(np.int16)
    dataset = _image(stored, modality="CT", sop_class=CT_IMAGE, description="Chest axial")
    dataset.BitsStored, dataset.HighBit = 12, 11
    dataset.RescaleSlope, dataset.RescaleIntercept, dataset.RescaleType = 1, -1024, "HU"
    dataset.WindowCenter, dataset.WindowWidth = 40, 400
    dataset.PixelSpacing = [0.7, 0.7]
    dataset.SliceThickness = 2.5
    dataset.ImagePositionPatient = [-180.0, -180.0, -2.5 * index]
    dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    dataset.BodyPartExamined = "CHEST"
    return dataset


def ct_study(session, *, patient_id: int, slices: int = 20, size: int = 512, seed: str = "ct") -> StoredStudy:
    datasets = [ct_slice(i, slices, size) for i in range(slices)]
    return store_study(session, patient_id=patient_id, series=[datasets], seed=seed, description="CT chest")


def demo_study(session, *, patient_id: int, seed: str = "demo") -> StoredStudy:
    """CT (rescaled), MR, RGB ultrasound, multi-frame cine and RLE-compressed MR: one series each."""
    series = [
        [_testdata("CT_small.dcm", "CT small")],
        [_testdata("MR_small.dcm", "MR small")],
        [_testdata("examples_rgb_color.dcm", "RGB ultrasound")],
        [cine_loop()],
        [_testdata("MR_small_RLE.dcm", "MR compressed (RLE)")],
    ]
    return store_study(session, patient_id=patient_id, series=series, seed=seed, description="Viewer cases")

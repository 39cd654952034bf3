"""What the radiology services share: the permissions, the live topic, where DICOM files live."""

from __future__ import annotations

from pathlib import Path

from hms_app.settings import get_settings

ORDER = "imaging.order"
READ = "imaging.read"
REPORT = "imaging.report"
CATALOGUE = "imaging.catalogue"
WORK = "radiology.work"  # the modality work list: arrive, start, complete
TOPIC = "imaging"  # live notices: the work list, the chart's imaging, the viewer's study


def dicom_root() -> Path:
    """Where DICOM files are kept: under the data directory, never the public upload folder.
    ``imaging_instance.path`` and ``unmatched_image.path`` are relative to it."""
    return Path(get_settings().data_dir) / "dicom"

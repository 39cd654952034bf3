"""Specimens: collection at the bedside (which posts the request's charges), reception in the
laboratory by scanning the label, rejection with a reason (a new pending specimen asks for a new
sample and the chart shows why), the Code 128 label, and the collection and reception lists.
"""

from __future__ import annotations

from sqlmodel import Session

from hms_app.services.laboratory.views import SpecimenPage, SpecimenRow
from hms_app.services.permissions import Actor


def collect_specimen(session: Session, *, actor: Actor, specimen_id: int) -> SpecimenRow:
    """Record that the specimen was taken, by whom and when (``lab.collect``), and post the charge
    of each test it carries (panels: the panel's price) in the same transaction."""
    raise NotImplementedError


def receive_specimen(session: Session, *, actor: Actor, scan: str) -> SpecimenRow:
    """Receive a collected specimen in the laboratory by its scanned accession (``lab.work``)."""
    raise NotImplementedError


def reject_specimen(
    session: Session, *, actor: Actor, specimen_id: int, reason: str, note: str = ""
) -> SpecimenRow:
    """Reject a collected or received specimen with a reason from REJECTION_REASONS (``lab.work``);
    returns the NEW pending specimen that re-collects it (its orders move to it)."""
    raise NotImplementedError


def specimen_label_svg(session: Session, *, actor: Actor, specimen_id: int) -> str:
    """The specimen's label as SVG: a Code 128 of the accession with the patient's name, MRN,
    container and tests (``lab.collect``)."""
    raise NotImplementedError


def collection_list(session: Session, *, actor: Actor, patient_id: int | None = None) -> list[SpecimenRow]:
    """Pending specimens waiting to be collected, STAT first (``lab.collect``); one patient's when
    ``patient_id`` is given."""
    raise NotImplementedError


def reception_list(session: Session, *, actor: Actor, page: int = 0, page_size: int = 50) -> SpecimenPage:
    """Collected specimens not yet received (oldest collection first), then those received or
    rejected today (``lab.work``)."""
    raise NotImplementedError

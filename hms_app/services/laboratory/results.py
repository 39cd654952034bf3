"""Results: entered by hand on the worklist or received from an analyser, flagged against the
reference range for the patient's sex and age at collection, delta-checked against the previous
released result, verified by a second person and released into the chart (and, after the test's
portal delay, the portal); a correction supersedes a released result with a new row.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from hms_app.errors import NotFound
from hms_app.models.laboratory import LabResult
from hms_app.services.laboratory.views import ResultRow
from hms_app.services.permissions import Actor


class UnknownSpecimen(NotFound):
    """No specimen has that accession (or it was rejected)."""


class UnknownTest(NotFound):
    """No test has that code, or the specimen carries no order of it."""


def enter_result(
    session: Session, *, actor: Actor, order_id: int, value: str, comment: str = ""
) -> ResultRow:
    """Enter (or, before verification, replace) the result of a received order (``lab.work``)."""
    raise NotImplementedError


def record_analyser_result(
    session: Session,
    *,
    accession: str,
    test_code: str,
    value: str,
    unit: str | None,
    observed_at: datetime | None,
    sender: str,
) -> LabResult:
    """Store an analyser's result for the order of ``test_code`` on the specimen ``accession`` as
    preliminary. NO permission check (the listener is trusted by network configuration) and NO
    commit (the caller stores the HL7 message in the same transaction). The value is converted from
    ``unit`` to the test's unit. Raises UnknownSpecimen, UnknownTest or ValidationError."""
    raise NotImplementedError


def verify_results(session: Session, *, actor: Actor, result_ids: list[int]) -> int:
    """Verify and release results someone else entered (``lab.verify``); returns how many."""
    raise NotImplementedError


def correct_result(session: Session, *, actor: Actor, result_id: int, value: str, comment: str) -> ResultRow:
    """Correct a released result (``lab.work``): a new row supersedes it, to be verified again."""
    raise NotImplementedError

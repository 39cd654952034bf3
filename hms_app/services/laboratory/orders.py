"""Ordering tests: a request of one or more tests and panels for a patient, its orders (a panel
expands to one order per member test, each naming the panel) and its specimens (one per distinct
container), with a warning when the same test was ordered within its duplicate window.
"""

from __future__ import annotations

from sqlmodel import Session

from hms_app.errors import ValidationError
from hms_app.services.laboratory.views import PlacedOrder
from hms_app.services.permissions import Actor


class DuplicateOrderWarning(ValidationError):
    """Some tests were ordered for this patient within their duplicate window; ``warnings`` lists
    them. Placing the order again with ``confirm_duplicates=True`` goes ahead."""

    def __init__(self, warnings: list[str]):
        super().__init__(" ".join(warnings), field="test_ids")
        self.warnings = list(warnings)


def duplicate_warnings(session: Session, *, actor: Actor, patient_id: int, test_ids: list[int]) -> list[str]:
    """One sentence per test (a panel's members included) this patient already has an order of
    within the test's duplicate window, not cancelled (``lab.order``)."""
    raise NotImplementedError


def place_order(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    test_ids: list[int],
    priority: str = "routine",
    clinical_question: str = "",
    fasting: bool = False,
    encounter_id: int | None = None,
    confirm_duplicates: bool = False,
) -> PlacedOrder:
    """Order tests and panels for a patient (``lab.order``): one request, one order per test (a
    panel's members each), one pending specimen per distinct container. Raises
    DuplicateOrderWarning unless ``confirm_duplicates``."""
    raise NotImplementedError


def cancel_order(session: Session, *, actor: Actor, order_id: int, reason: str) -> None:
    """Cancel an order not yet resulted (``lab.order``), with a reason. A specimen left carrying no
    live order drops off the collection and reception lists; a collected one was already charged
    (billing handles the credit)."""
    raise NotImplementedError

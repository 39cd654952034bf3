"""The test catalogue: LOINC-coded tests and panels, their reference ranges and critical limits.

Reading it needs ``lab.read`` (or ``lab.order`` for the order dialog's search); changing it needs
``lab.catalogue``. Every change is audited.
"""

from __future__ import annotations

from sqlmodel import Session

from hms_app.services.laboratory.views import TestChoice, TestDetail, TestPage
from hms_app.services.permissions import Actor


def orderable_tests(session: Session, *, actor: Actor, query: str = "", limit: int = 20) -> list[TestChoice]:
    """Active tests and panels whose code, name or short name matches ``query`` (``lab.order``),
    panels first, then by name; at most ``limit``."""
    raise NotImplementedError


def list_tests(
    session: Session,
    *,
    actor: Actor,
    query: str = "",
    include_inactive: bool = False,
    page: int = 0,
    page_size: int = 50,
) -> TestPage:
    """One page of the catalogue by name (``lab.read``), with how many ranges each test has."""
    raise NotImplementedError


def test_detail(session: Session, *, actor: Actor, test_id: int) -> TestDetail:
    """One test with its ranges and, for a panel, its member tests (``lab.read``)."""
    raise NotImplementedError


def save_test(session: Session, *, actor: Actor, test_id: int | None, form: dict[str, str]) -> int:
    """Create (``test_id`` None) or edit a test or panel from a form (``lab.catalogue``); returns its id.

    Form keys: code, name, short_name, is_panel ("true"/"false"), specimen_type, container,
    result_type (numeric|coded|text), unit (UCUM, numeric tests), decimals, choices (coded:
    "Negative|Positive"), price_code, duplicate_window_hours, portal_delay_hours, active.
    Every field's message is raised at once (InvalidFields)."""
    raise NotImplementedError


def save_range(
    session: Session, *, actor: Actor, test_id: int, range_id: int | None, form: dict[str, str]
) -> int:
    """Create or edit a reference range of a test (``lab.catalogue``); returns its id.

    Form keys: sex (any|male|female), age_min_days, age_max_days ("" for no upper bound), low,
    high, critical_low, critical_high, delta_limit, normal_text. Ranges of one test and sex may not
    overlap in age."""
    raise NotImplementedError


def delete_range(session: Session, *, actor: Actor, range_id: int) -> None:
    """Remove a reference range (``lab.catalogue``); results already flagged keep their reference text."""
    raise NotImplementedError


def set_panel_members(session: Session, *, actor: Actor, panel_id: int, test_ids: list[int]) -> None:
    """Replace a panel's member tests with ``test_ids`` in that order (``lab.catalogue``); members
    must be single active tests, not panels."""
    raise NotImplementedError

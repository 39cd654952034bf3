"""The row types the laboratory services hand out: frozen dataclasses whose field names are the
contract the screens are written against (LAB_API.md), so they change only together with them.
Decimals of the catalogue travel as text (``"3.5"``) so that a form shows exactly what was stored.
``views`` re-exports them; import them from either."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

# --- the catalogue --------------------------------------------------------------------------


@dataclass(frozen=True)
class TestChoice:
    """A test or panel a physician can order (the order dialog's search)."""

    __test__ = False  # not a pytest test class

    id: int
    code: str
    name: str
    short_name: str
    is_panel: bool
    specimen_type: str
    container: str
    members: int  # a panel's member tests; 0 for a single test


@dataclass(frozen=True)
class TestRow:
    """One line of the catalogue screen."""

    __test__ = False

    id: int
    code: str
    name: str
    short_name: str
    is_panel: bool
    result_type: str
    unit: str
    specimen_type: str
    container: str
    price_code: str
    active: bool
    ranges: int  # how many reference ranges it has


@dataclass(frozen=True)
class TestPage:
    __test__ = False

    rows: list[TestRow]
    total: int


@dataclass(frozen=True)
class RangeRow:
    """One reference range; limits as text ("" when there is none)."""

    id: int
    sex: str
    age_min_days: int
    age_max_days: int | None
    low: str
    high: str
    critical_low: str
    critical_high: str
    delta_limit: str
    normal_text: str


@dataclass(frozen=True)
class TestDetail:
    """A test with everything its edit screen shows."""

    __test__ = False

    test: TestRow
    decimals: int
    choices: str  # coded results: "Negative|Trace|1+"
    duplicate_window_hours: int
    portal_delay_hours: int
    ranges: list[RangeRow]
    members: list[TestChoice]  # a panel's tests, in their order


# --- orders and specimens -------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedOrder:
    request_id: int
    reference: str  # "LR-000123"
    specimen_ids: list[int]
    accessions: list[str]
    warnings: list[str]  # duplicates the physician confirmed, kept for the toast


@dataclass(frozen=True)
class SpecimenRow:
    id: int
    accession: str
    patient_id: int
    patient_name: str
    mrn: str
    specimen_type: str
    container: str
    status: str  # pending | collected | received | rejected
    priority: str  # the most urgent of its orders
    tests: str  # "K, Na, Creat"
    collected_at: datetime | None
    collected_by: str
    received_at: datetime | None
    rejection_reason: str  # a REJECTION_REASONS key, "" when not rejected
    request_reference: str


@dataclass(frozen=True)
class SpecimenLabel:
    """A specimen's printable label and what the label page shows beside it."""

    svg: str  # the label itself (specimen_label_svg)
    specimen: SpecimenRow
    birth_date: date
    sex: str


@dataclass(frozen=True)
class SpecimenPage:
    rows: list[SpecimenRow]
    total: int
    waiting: int = 0  # collected and not yet received, on every page


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    id: int
    order_id: int
    test_code: str
    short_name: str
    value: str  # as shown: "5.4", "Positive", a culture's text
    unit: str
    flag: str  # LL | L | N | H | HH | A | ""
    delta_flag: bool
    reference_text: str  # "3.5-5.1"
    status: str  # preliminary | final | corrected
    entered_by: str
    resulted_at: datetime


@dataclass(frozen=True)
class WorklistRow:
    order_id: int
    request_reference: str
    accession: str
    patient_id: int
    patient_name: str
    mrn: str
    test_code: str
    short_name: str
    unit: str
    result_type: str
    choices: list[str]
    priority: str
    status: str
    ordered_at: datetime
    received_at: datetime | None
    result_id: int | None
    value: str
    flag: str
    entered_by: str


@dataclass(frozen=True)
class WorklistPage:
    rows: list[WorklistRow]
    total: int


@dataclass(frozen=True)
class Cell:
    value: str
    flag: str
    result_id: int | None


@dataclass(frozen=True)
class CumulativeRow:
    test_id: int
    code: str
    short_name: str
    unit: str
    reference_text: str
    cells: list[Cell]  # one per column of ``Cumulative.times``; an empty Cell where not measured


@dataclass(frozen=True)
class Cumulative:
    times: list[str]  # column headings, newest first, in the hospital's time zone
    rows: list[CumulativeRow]
    total_times: int  # how many collection times there are in all (for paging the columns)


@dataclass(frozen=True)
class TrendPoint:
    at: datetime
    value: float  # for plotting only; the stored value is a Decimal
    flag: str
    low: float | None
    high: float | None


@dataclass(frozen=True)
class OrderRow:
    order_id: int
    request_reference: str
    test_name: str
    short_name: str  # what the lab screens and warnings call the test: "K"
    priority: str
    status: str
    ordered_at: datetime
    specimen_id: int | None
    accession: str
    specimen_status: str
    rejection_reason: str  # the label of the reason the last specimen was rejected, "" if none


@dataclass(frozen=True)
class PortalResult:
    at: datetime
    test_name: str
    value: str
    unit: str
    flag: str
    reference_text: str


@dataclass(frozen=True)
class TurnaroundStage:
    stage: str  # "Order to collection", ...
    median_minutes: float | None
    count: int

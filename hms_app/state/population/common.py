"""What the population screens share: the patient line of every cohort list, the "as of"
label, the period choices and the measure choices."""

from __future__ import annotations

from dataclasses import dataclass

from hms_app.clock import format_local
from hms_app.errors import ValidationError
from hms_app.services.population.cohorts import CohortRow
from hms_app.services.population.measures import MEASURES
from hms_app.services.population.measures import PERIOD_MONTHS as PERIOD_MONTHS  # the pages' period choices
from hms_app.services.population.refresh import RefreshInfo

PAGE_SIZE = 20
# The measures the pages offer, as (key, title) pairs.
MEASURE_OPTIONS = [[key, m.title] for key, m in MEASURES.items()]


@dataclass
class CohortLine:
    id: int = 0
    mrn: str = ""
    name: str = ""
    sex: str = ""
    age: int = 0
    provider: str = ""
    last_visit: str = ""
    hba1c: str = ""
    bp: str = ""
    bmi: str = ""
    egfr: str = ""
    last_outreach: str = ""
    # Under each value: the day it was measured, and on a measure's worklist whether that was
    # before the measurement period ("2025-03-14 · not measured in the period", shown amber).
    hba1c_when: str = ""
    bp_when: str = ""
    bmi_when: str = ""
    egfr_when: str = ""
    hba1c_old: bool = False
    bp_old: bool = False
    bmi_old: bool = False
    egfr_old: bool = False


def _num(value: float | None, fmt: str = "{:g}") -> str:
    return "" if value is None else fmt.format(value)


NOT_IN_PERIOD = "not measured in the period"


def _when(row: CohortRow, value: str, at) -> tuple[str, bool]:
    """The note under a value and whether it is outside the measurement period."""
    if not value or at is None:
        return "", False  # nothing measured: nothing to date (the empty cell says it)
    day = format_local(at, "%Y-%m-%d")
    if row.measured_in_period(at):
        return day, False
    return f"{day} · {NOT_IN_PERIOD}", True


def cohort_line(row: CohortRow) -> CohortLine:
    line = _values(row)
    line.hba1c_when, line.hba1c_old = _when(row, line.hba1c, row.hba1c_at)
    line.bp_when, line.bp_old = _when(row, line.bp, row.bp_at)
    line.bmi_when, line.bmi_old = _when(row, line.bmi, row.bmi_at)
    line.egfr_when, line.egfr_old = _when(row, line.egfr, row.egfr_at)
    return line


def _values(row: CohortRow) -> CohortLine:
    return CohortLine(
        id=row.patient_id,
        mrn=row.mrn,
        name=row.name,
        sex=row.sex,
        age=row.age,
        provider=row.provider,
        last_visit=format_local(row.last_visit_at, "%Y-%m-%d") if row.last_visit_at else "",
        hba1c=_num(row.hba1c),
        bp=f"{row.sbp:.0f}/{row.dbp:.0f}" if row.sbp is not None and row.dbp is not None else "",
        bmi=_num(row.bmi, "{:.1f}"),
        egfr=_num(row.egfr, "{:.0f}"),
        last_outreach=format_local(row.last_outreach_at, "%Y-%m-%d") if row.last_outreach_at else "",
    )


def as_of_label(info: RefreshInfo) -> str:
    if info.refreshed_at is None:
        return "not computed yet"
    return f"{format_local(info.refreshed_at)} (refreshed in {info.seconds:.1f} s)"


def parse_months(value) -> int:
    try:
        months = int(str(value))
    except ValueError as error:
        raise ValidationError("Choose a period from the list.") from error
    if months not in PERIOD_MONTHS:
        raise ValidationError("Choose a period from the list.")
    return months

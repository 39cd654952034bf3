"""Issue 16's Synthea journey: an operator imports a Synthea population into the running hospital
(``hms import synthea``, as on the command line); a physician finds an imported patient by name
and reads their imported problems, medications, immunizations and vital-sign trend; a manager
finds the imported patients on the population, finance and operations dashboards.

The export is generated (40 patients, ``generate.py``) with today's date, so that its visits
stay inside the dashboards' periods whenever the test runs. Every number asserted on screen is
computed here from the database the server reads.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime, time, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from hms_app.analytics.finance.common import default_filters
from hms_app.clock import local_today
from hms_app.interop.synthea.generate import generate
from hms_app.models.billing import Invoice, InvoiceLine
from hms_app.models.emr import Condition, Immunization, MedicationStatement, Observation
from hms_app.models.imports import ImportedRecord
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.population import PopulationSummary
from hms_app.models.scheduling import Appointment
from hms_app.money import format_money
from hms_app.settings import get_settings
from tests.e2e.conftest import Server, hms_cli, screenshot, server_db, sign_in

PATIENTS = 40
SEED = 16  # issue 16; its 90 days before today hold imported visits (asserted below)
HEART_RATE = "8867-4"


def _shot(page: Page, name: str) -> Path:
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(500)  # let Plotly finish its first draw before the picture
    return screenshot(page, name)


def _rows(folder: Path, name: str) -> list[dict]:
    with (folder / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def _chosen_patient(folder: Path) -> str:
    """The Synthea id of the imported patient with the most medications (then immunizations)."""
    meds: dict[str, int] = {}
    for row in _rows(folder, "medications.csv"):
        meds[row["PATIENT"]] = meds.get(row["PATIENT"], 0) + 1
    shots: dict[str, int] = {}
    for row in _rows(folder, "immunizations.csv"):
        shots[row["PATIENT"]] = shots.get(row["PATIENT"], 0) + 1
    return max(meds, key=lambda p: (meds[p], shots.get(p, 0), p))


def _period_bounds(start, end) -> tuple[datetime, datetime]:
    tz = get_settings().tz
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def test_imported_patients_show_in_the_chart_and_on_the_dashboards(
    page: Page, hms_server: Server, tmp_path: Path
):
    folder = tmp_path / "synthea"
    generate(folder, PATIENTS, seed=SEED, today=local_today())
    out = hms_cli(hms_server, "import", "synthea", str(folder), "--quiet")
    assert f"IMPORTED patient {PATIENTS}" in out
    synthea_id = _chosen_patient(folder)

    today = local_today()
    with server_db(hms_server) as session:
        imported = dict(
            session.execute(
                select(ImportedRecord.external_id, ImportedRecord.row_id).where(
                    ImportedRecord.resource_type == "Patient"
                )
            ).all()
        )
        patient = session.get(Patient, imported[synthea_id])
        name, mrn = f"{patient.given_name} {patient.family_name}", patient.mrn
        conditions = (
            session.execute(
                select(Condition.code).where(
                    Condition.patient_id == patient.id, Condition.clinical_status == "active"
                )
            )
            .scalars()
            .all()
        )
        medications = (
            session.execute(
                select(MedicationStatement.medication).where(MedicationStatement.patient_id == patient.id)
            )
            .scalars()
            .all()
        )
        vaccines = session.execute(
            select(Immunization.vaccine, Immunization.occurrence_date).where(
                Immunization.patient_id == patient.id
            )
        ).all()
        heart_rates = (
            session.execute(
                select(Observation.value)
                .where(Observation.patient_id == patient.id, Observation.code == HEART_RATE)
                .order_by(Observation.effective_at)
            )
            .scalars()
            .all()
        )
        population = session.execute(select(func.count()).select_from(PopulationSummary)).scalar_one()
        in_summary = session.execute(
            select(func.count()).where(PopulationSummary.patient_id.in_(list(imported.values())))
        ).scalar_one()
        # The imported organization with the most revenue in the finance page's default period.
        period = default_filters(today)
        since, until = _period_bounds(period.start, period.end)
        revenue = session.execute(
            select(Department.name, func.sum(InvoiceLine.line_total_cents))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .join(Department, Department.id == InvoiceLine.department_id)
            .where(
                Invoice.status == "issued",
                Invoice.issued_at >= since,
                Invoice.issued_at < until,
                Department.code.like("SY%"),
            )
            .group_by(Department.name)
            .order_by(func.sum(InvoiceLine.line_total_cents).desc())
        ).first()
        # Its booked visits of the operations page's last 90 days.
        start_90, end_90 = _period_bounds(today - timedelta(days=89), today)
        visits = session.execute(
            select(func.count())
            .select_from(Appointment)
            .join(Department, Department.id == Appointment.department_id)
            .where(
                Department.name == revenue[0],
                Appointment.start_at >= start_90,
                Appointment.start_at < end_90,
                Appointment.status == "completed",
            )
        ).scalar_one()
    assert conditions and medications and vaccines and len(heart_rates) >= 3
    assert in_summary == PATIENTS
    assert revenue is not None and revenue[1] > 0
    assert visits > 0, "the generated export has visits in the last 90 days"

    # The physician finds the imported patient by name and opens the chart.
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "dr.grey")
    page.goto("/patients")
    page.locator("[data-testid=patient-search]").fill(name)
    row = page.locator(f"[data-testid=patient-row-{mrn}]")
    expect(row).to_contain_text(name)
    row.locator("[data-testid=patient-link]").click()
    page.wait_for_url(re.compile(rf"/patients/{patient.id}$"))
    banner = page.locator("[data-testid=chart-banner]")
    expect(banner.locator("[data-testid=chart-name]")).to_have_text(name)
    expect(banner.locator("[data-testid=chart-mrn]")).to_have_text(mrn)

    page.locator("[data-testid=tab-problems]").click()
    for code in conditions:
        expect(page.locator(f"[data-testid='condition-{code}']")).to_contain_text("Active")
    _shot(page, "synthea-chart-problems")

    page.locator("[data-testid=tab-allergies]").click()
    for medication in medications:
        expect(page.get_by_text(medication, exact=True).first).to_be_visible()
    for vaccine, given in vaccines:
        expect(
            page.get_by_role("row").filter(has_text=vaccine).filter(has_text=given.isoformat()).first
        ).to_be_visible()
    _shot(page, "synthea-chart-medications")

    # The heart-rate trend (the tab's first chart) draws the imported values, oldest first.
    page.locator("[data-testid=tab-vitals]").click()
    plot = page.locator("[data-testid=trend-chart] .js-plotly-plot")
    expect(plot).to_be_visible(timeout=60_000)
    expect(page.get_by_text(f"{len(heart_rates)} measurements")).to_be_visible()
    drawn = plot.evaluate("(el) => el.data.flatMap((trace) => Array.from(trace.y || []))")
    assert [float(v) for v in drawn] == heart_rates
    page.locator("[data-testid=trend-chart]").scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    screenshot(page, "synthea-chart-vitals-trend")

    page.locator("[data-testid=sign-out]").click()
    page.wait_for_url(re.compile(r"/login"))
    sign_in(page, "manager")

    # Population health counts the imported patients (the import rebuilt the summary).
    page.goto("/population")
    expect(page.locator("[data-testid=pop-total]")).to_have_text(str(population), timeout=60_000)
    expect(page.locator("[data-testid=chart-prevalence] .point path").first).to_be_attached(timeout=60_000)
    _shot(page, "synthea-population")

    # Finance: an imported organization is a department with its imported revenue.
    page.goto("/finance")
    kpi = page.locator("[data-testid=kpi-revenue]")
    expect(kpi).to_have_text(re.compile(r"^\$[\d,]+\.\d\d$"), timeout=60_000)
    page.locator("[data-testid=filter-department]").click()
    page.get_by_role("option", name=revenue[0], exact=True).click()
    page.locator("[data-testid=filter-apply]").click()
    expect(kpi).to_have_text(format_money(revenue[1], symbol="$"), timeout=30_000)
    expect(page.locator("[data-testid=chart-revenue_by_month] .js-plotly-plot")).to_be_visible(timeout=60_000)
    _shot(page, "synthea-finance")

    # Operations: the imported visits are the department's completed appointments.
    page.goto("/analytics/operations")
    expect(page.locator("[data-testid=page-title]")).to_have_text("Operations")
    page.locator("[data-testid=ops-period]").click()
    page.get_by_role("option", name="Last 90 days").click()
    page.locator("[data-testid=ops-department]").click()
    page.get_by_role("option", name=revenue[0], exact=True).click()
    expect(page.locator("[data-testid=ops-appointments]")).to_have_text(f"{visits:,}", timeout=30_000)
    expect(page.locator("[data-testid=ops-no-show]")).to_have_text("0.0%")
    _shot(page, "synthea-operations")

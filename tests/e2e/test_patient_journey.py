"""The patient journey of issue 3, as the people who do it: a receptionist registers a new
patient and is warned before registering the same person twice; a physician opens the chart,
records vitals, codes a diagnosis, records an allergy, and signs and amends a note; then an
auditor finds every read and write of that chart in an intact audit trail.

One test, in order: each step needs what the one before it left in the database.
"""

from __future__ import annotations

import random
import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import func, select

from hms_app.services.patients import is_valid_mrn
from tests.e2e.conftest import SCREENS_DIR, Server, hms_cli, screenshot, server_db, sign_in

BIRTH_DATE = "1984-03-15"
SYLLABLES = ("ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ru", "sa", "te", "vi", "zo")
DUPLICATE_REASON = "Different person: cousin with the same birthday, ID card checked at the desk"
TOAST = "[data-sonner-toast]"
# What the physician writes in the journey, each of which the audit trail must show.
CLINICAL_WRITES = (
    "vitals.record",
    "condition.add",
    "allergy.add",
    "encounter.start",
    "note.save",
    "note.sign",
    "note.amend",
)


def _unique_person() -> tuple[str, str, str, str]:
    """Given name, family name, its near-duplicate (two letters swapped) and a phone, new each run."""
    suffix = "".join(random.choice(SYLLABLES) for _ in range(4))
    family = "Marlowe" + suffix
    near = "Malrowe" + suffix  # "rl" typed as "lr": the slip a busy desk makes
    phone = f"+1 555 {random.randint(100, 999)} {random.randint(1000, 9999)}"
    return "Oriana", family, near, phone


def _toast(page: Page, text: str | re.Pattern) -> Locator:
    return page.locator(TOAST).filter(has_text=text)


def _visible(page: Page, test_id: str) -> Locator:
    """The copy of ``test_id`` drawn at this screen width (some panels exist twice, one per layout)."""
    return page.locator(f"[data-testid={test_id}]:visible")


def _fill_registration(page: Page, given: str, family: str, phone: str) -> None:
    page.goto("/patients/new")
    expect(page.locator("[data-testid=register-submit]")).to_be_visible()
    page.locator("input[name=given_name]").fill(given)
    page.locator("input[name=family_name]").fill(family)
    page.locator("[data-testid=sex-select]").click()
    page.get_by_role("option", name="Female", exact=True).click()
    page.locator("input[name=birth_date]").fill(BIRTH_DATE)
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=city]").fill("Springfield")


def _search(page: Page, text: str) -> Locator:
    box = page.locator("[data-testid=patient-search]")
    box.fill(text)
    return page.locator("[data-testid=patient-results]")


def _audited(server: Server, patient_id: int) -> list[tuple[str, str, str]]:
    from hms_app.models.security import AuditEvent

    with server_db(server) as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.username, AuditEvent.detail)
            .where(AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.id)
        ).all()
    return [(action, username, detail or "") for action, username, detail in rows]


def _observation_count(server: Server, patient_id: int) -> int:
    from hms_app.models.emr import Observation

    with server_db(server) as session:
        return session.execute(
            select(func.count()).select_from(Observation).where(Observation.patient_id == patient_id)
        ).scalar_one()


def _shot(page: Page, name: str) -> None:
    """A page as the user sees it: from the top, so the sticky header and banner sit where they belong."""
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)


def _dialog_shot(page: Page, name: str) -> None:
    """A dialog as the user sees it: the window only (a full-page capture misplaces the locked page behind it)."""
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), animations="disabled")


def _toasts_gone(page: Page) -> None:
    """Let the success toasts time out so they do not cover the note in the screenshot.

    The pointer is moved away first: a toast under the pointer stays until it leaves.
    """
    page.mouse.move(0, 0)
    expect(page.locator(TOAST)).to_have_count(0, timeout=30_000)


def _note_id(locator: Locator, prefix: str) -> int:
    return int(locator.get_attribute("data-testid").removeprefix(prefix))


@pytest.mark.scaled_out
def test_register_chart_and_audit_a_patient(page: Page, hms_server: Server):
    given, family, near_family, phone = _unique_person()
    full_name = f"{given} {family}"

    # ------------------------------------------------------------------ 1. the receptionist registers
    sign_in(page, "reception")
    _fill_registration(page, given, family, phone)
    page.locator("[data-testid=register-submit]").click()

    page.wait_for_url(re.compile(r"/patients/\d+/?$"))
    patient_id = int(re.search(r"/patients/(\d+)", page.url).group(1))
    expect(page.locator("[data-testid=chart-name]")).to_have_text(full_name)
    mrn = page.locator("[data-testid=chart-mrn]").inner_text().strip()
    assert is_valid_mrn(mrn), f"the MRN shown, {mrn!r}, does not pass its check digit"
    expect(_toast(page, f"registered with MRN {mrn}")).to_be_visible()
    # A receptionist reads the chart but is given no clinical write controls.
    expect(page.locator("[data-testid=chart-banner]")).to_be_visible()
    page.locator("[data-testid=tab-problems]").click()
    expect(page.get_by_text("No problems recorded.")).to_be_visible()
    expect(page.locator("[data-testid=add-problem]")).to_have_count(0)

    # ------------------------------------------------------------------ 2. the near-duplicate
    _fill_registration(page, given, near_family, phone)
    panel = _visible(page, "matches-panel")
    match = panel.locator(f"[data-testid=match-{mrn}]")
    expect(match).to_be_visible()  # before anything is saved, while the clerk is still on the form
    expect(match).to_contain_text(full_name)
    expect(match).to_contain_text("same date of birth")
    expect(match).to_contain_text("same phone number")
    _shot(page, "journey-01-duplicate-panel")

    page.locator("[data-testid=register-submit]").click()
    dialog = page.locator("[data-testid=duplicate-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("This person may already be registered")
    expect(dialog.locator("[data-testid=confirm-matches]")).to_contain_text(mrn)
    _dialog_shot(page, "journey-02-duplicate-dialog")

    dialog.locator("[data-testid=duplicate-reason]").fill("twin")
    dialog.locator("[data-testid=confirm-duplicate]").click()
    expect(dialog.locator("[data-testid=confirm-error]")).to_contain_text("at least 5 characters")
    expect(dialog).to_be_visible()  # refused: still asking, nothing saved
    _dialog_shot(page, "journey-03-duplicate-reason-refused")

    dialog.locator("[data-testid=duplicate-reason]").fill(DUPLICATE_REASON)
    dialog.locator("[data-testid=confirm-duplicate]").click()
    page.wait_for_url(lambda url: re.search(rf"/patients/(?!{patient_id}/?$)\d+/?$", url) is not None)
    near_id = int(re.search(r"/patients/(\d+)", page.url).group(1))
    expect(page.locator("[data-testid=chart-name]")).to_have_text(f"{given} {near_family}")
    near_mrn = page.locator("[data-testid=chart-mrn]").inner_text().strip()
    assert is_valid_mrn(near_mrn) and near_mrn != mrn

    # Search finds the original by a fragment of the name, by MRN and by phone.
    page.goto("/patients")
    results = _search(page, family[:9])
    expect(results.locator(f"[data-testid=patient-row-{mrn}]")).to_contain_text(full_name)
    results = _search(page, mrn)
    expect(results.locator(f"[data-testid=patient-row-{mrn}]")).to_be_visible()
    expect(results.locator("[data-testid^=patient-row-]")).to_have_count(1)
    results = _search(page, phone)
    expect(results.locator(f"[data-testid=patient-row-{mrn}]")).to_be_visible()
    expect(results.locator(f"[data-testid=patient-row-{near_mrn}]")).to_be_visible()
    _shot(page, "journey-04-search-by-phone")

    page.locator("[data-testid=sign-out]").click()
    page.wait_for_url(re.compile(r"/login"))

    # ------------------------------------------------------------------ 3. the physician's chart
    sign_in(page, "dr.grey")
    page.goto(f"/patients/{patient_id}")
    banner = page.locator("[data-testid=chart-banner]")
    expect(banner.locator("[data-testid=chart-name]")).to_have_text(full_name)
    expect(banner.locator("[data-testid=chart-mrn]")).to_have_text(mrn)
    # Nobody has asked about allergies yet: amber, never a reassuring "No known allergies".
    expect(banner.locator("[data-testid=allergy-badge]")).to_have_text("Allergies not yet assessed")
    expect(banner.locator("[data-testid=banner-problems]")).to_contain_text("No active problems")
    _shot(page, "journey-05-chart-banner")

    # Vitals: a pulse of 900 is refused with a message that says why, and nothing is kept.
    page.locator("[data-testid=tab-vitals]").click()
    page.locator("[data-testid=vital-heart_rate]").fill("900")
    page.locator("[data-testid=record-vitals]").click()
    error = page.locator("[data-testid=vital-error-heart_rate]")
    expect(error).to_contain_text("heart rate of 900")
    expect(error).to_contain_text("not possible")
    expect(_toast(page, "not possible")).to_be_visible()
    _shot(page, "journey-06-vitals-pulse-900")
    assert _observation_count(hms_server, patient_id) == 0

    plausible = {
        "heart_rate": "72",
        "respiratory_rate": "16",
        "systolic_bp": "128",
        "diastolic_bp": "82",
        "temperature": "36.8",
        "spo2": "98",
        "weight": "82.5",
        "height": "178",
    }
    for key, value in plausible.items():
        page.locator(f"[data-testid=vital-{key}]").fill(value)
    page.locator("[data-testid=record-vitals]").click()
    # 82.5 kg at 1.78 m: 26.0 kg/m2.
    expect(_toast(page, "9 measurements recorded. BMI 26.0 (overweight).")).to_be_visible()
    expect(error).to_have_count(0)
    expect(page.locator("[data-testid=trend-chart]")).to_be_visible()
    page.locator("[data-testid=tab-summary]").click()
    expect(page.locator("[data-testid=summary-bmi]")).to_contain_text("BMI 26.0 kg/m²")
    expect(page.locator("[data-testid=summary-bmi]")).to_contain_text("overweight")
    expect(page.locator("[data-testid=summary-vitals]")).to_contain_text("72 /min")
    _shot(page, "journey-07-vitals-bmi")
    assert _observation_count(hms_server, patient_id) == 9

    # A diagnosis coded from ICD-10-CM, found by words (only billable codes are offered).
    page.locator("[data-testid=tab-problems]").click()
    page.locator("[data-testid=add-problem]").click()
    problem = page.locator("[data-testid=dialog-problem]")
    problem.locator("[data-testid=icd-search]").fill("type 2 diabetes without complications")
    problem.locator("[data-testid='icd-E11.9']").click()
    expect(problem.locator("[data-testid=icd-picked]")).to_contain_text("E11.9")
    _dialog_shot(page, "journey-08-icd-search")
    problem.locator("[data-testid=dialog-submit]").click()
    expect(problem).to_have_count(0)
    expect(page.locator("[data-testid='condition-E11.9']")).to_contain_text("Active")
    expect(banner.locator("[data-testid=banner-problems]")).to_contain_text("E11.9")
    expect(banner.locator("[data-testid=banner-problems]")).not_to_contain_text("No active problems")
    _shot(page, "journey-09-problem-list")

    # Allergies: the physician records "no known allergies" (who and when are kept) ...
    page.locator("[data-testid=tab-allergies]").click()
    expect(page.locator("[data-testid=allergy-status]")).to_contain_text("not yet assessed")
    page.locator("[data-testid=record-nka]").click()
    expect(banner.locator("[data-testid=allergy-badge]")).to_have_text("No known allergies")
    expect(page.locator("[data-testid=allergy-status]")).to_contain_text("recorded by dr.grey")
    expect(page.locator("[data-testid=record-nka]")).to_have_count(0)
    # ... then an allergy supersedes it: the banner's badge turns to the substance.
    page.locator("[data-testid=add-allergy]").click()
    allergy = page.locator("[data-testid=dialog-allergy]")
    allergy.locator("input[name=substance]").fill("Penicillin")
    allergy.locator("input[name=reaction]").fill("Hives and wheeze")
    allergy.get_by_role("combobox").click()
    page.get_by_role("option", name="Severe", exact=True).click()
    allergy.locator("[data-testid=dialog-submit]").click()
    expect(allergy).to_have_count(0)
    badge = banner.locator("[data-testid=allergy-badge]")
    expect(badge).to_contain_text("Penicillin (severe)")
    expect(badge).not_to_contain_text("No known allergies")
    expect(page.locator("[data-testid=allergy-status]")).to_have_count(0)
    expect(banner.locator("[data-testid=banner-alert]")).to_contain_text("Severe allergy")
    expect(page.locator("[data-testid=allergy-row]")).to_contain_text("Hives and wheeze")
    _shot(page, "journey-10-allergy-badge")

    # An encounter with a SOAP note, signed (locked), then amended (the original stays).
    page.locator("[data-testid=tab-encounters]").click()
    page.locator("[data-testid=new-encounter]").click()
    encounter = page.locator("[data-testid=dialog-encounter]")
    encounter.locator("input[name=reason]").fill("Diabetes review")
    encounter.locator("[data-testid=dialog-submit]").click()
    expect(encounter).to_have_count(0)
    editor = page.locator("[data-testid=note-editor]")
    expect(editor).to_be_visible()
    soap = {
        "subjective": "Thirsty for two weeks; no chest pain.",
        "objective": "BP 128/82, pulse 72, BMI 26.0.",
        "assessment": "Type 2 diabetes mellitus without complications.",
        "plan": "HbA1c, diet advice, review in 4 weeks.",
    }
    for part, text in soap.items():
        editor.locator(f"[data-testid=soap-{part}]").fill(text)
    editor.locator("[data-testid=save-note]").click()
    expect(editor).to_have_count(0)
    sign_button = page.locator("[data-testid^=sign-note-]")
    expect(sign_button).to_have_count(1)
    note_id = _note_id(sign_button, "sign-note-")
    note = page.locator(f"[data-testid=note-{note_id}]")
    expect(note).to_contain_text(soap["assessment"])
    sign_button.click()
    page.locator("[data-testid=confirm-sign]").click()
    expect(note.locator("[data-testid=signed-line]")).to_contain_text("Signed by")
    expect(_toast(page, f"Note #{note_id} signed and locked.")).to_be_visible()
    expect(note.locator(f"[data-testid=edit-note-{note_id}]")).to_have_count(0)
    expect(note.locator(f"[data-testid=sign-note-{note_id}]")).to_have_count(0)
    _toasts_gone(page)
    _shot(page, "journey-11-signed-note")

    note.locator(f"[data-testid=amend-note-{note_id}]").click()
    expect(_toast(page, f"of note #{note_id} started. The original stays as it was.")).to_be_visible()
    expect(editor).to_be_visible()
    expect(editor).to_contain_text(f"Amends note #{note_id}")
    amended_assessment = "Type 2 diabetes mellitus without complications; overweight (BMI 26.0)."
    editor.locator("[data-testid=soap-assessment]").fill(amended_assessment)
    editor.locator("[data-testid=save-note]").click()
    expect(editor).to_have_count(0)
    amendment = page.locator("[data-testid=amends-badge]")
    expect(amendment).to_have_text(f"Amends note #{note_id}")
    # The original is still there, word for word, marked as amended.
    expect(note).to_contain_text(soap["assessment"])
    expect(note).not_to_contain_text("overweight (BMI 26.0)")
    expect(note.locator("[data-testid=amended-by-badge]")).to_be_visible()
    expect(note.locator("[data-testid=signed-line]")).to_be_visible()
    expect(note.locator(f"[data-testid=amend-note-{note_id}]")).to_have_count(0)
    expect(page.get_by_text("overweight (BMI 26.0)")).to_be_visible()
    _toasts_gone(page)
    _shot(page, "journey-12-amended-note")

    # ------------------------------------------------------------------ 4. the auditor
    trail = _audited(hms_server, patient_id)
    actions = {(action, user) for action, user, _detail in trail}
    assert ("patient.create", "reception") in actions
    assert ("patient.read", "dr.grey", "chart opened") in trail
    for action in CLINICAL_WRITES:
        assert (action, "dr.grey") in actions, f"{action} by dr.grey is missing from the audit trail"
    # The refused pulse of 900 wrote nothing, so only one vitals.record is on file.
    assert sum(1 for action, _u, _d in trail if action == "vitals.record") == 1
    # The near-duplicate's registration carries the clerk's reason and the record it resembled.
    near_created = [d for a, _u, d in _audited(hms_server, near_id) if a == "patient.create"]
    assert near_created and mrn in near_created[0] and DUPLICATE_REASON in near_created[0]

    verdict = hms_cli(hms_server, "audit", "verify")
    assert verdict.startswith("OK:"), verdict

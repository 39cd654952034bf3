"""The laboratory's seeders: the catalogue (``laboratory_catalogue``: tests, panels, ranges and the
billing services their price codes name; idempotent by code, used by every new hospital) and the
demo's laboratory history (``laboratory_demo``).

The demo history turns the laboratory observations the clinical seeder wrote (HbA1c of diabetics,
creatinine) into the requests, specimens, orders and released results they would have come from,
at the same moments and values, flagged by the same rules the services use; so the chart's results
tab, its trends and population health tell the same story. Diabetics get a lipid panel with their
latest HbA1c (its numeric results copied into the chart's observations, as release does). The
portal's demo patient gets a few released results (one, an HIV test, still inside its portal delay)
and the laboratory gets today's work in every state: specimens to collect, to receive, orders to
result and results to verify (from the analyser, so the demo's one technician may verify them).
Everything is bulk inserted with explicit ids (the history is capped at ``HISTORY_CAP``
observations, the most recent) so that the seed stays well under three seconds.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, text

from hms_app.cds.lab_flags import (
    Limits,
    age_in_days,
    coded_flag,
    delta_exceeded,
    numeric_flag,
    reference_text,
    select_range,
)
from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.emr import Condition, Observation
from hms_app.models.laboratory import (
    LabOrder,
    LabPanelMember,
    LabReferenceRange,
    LabRequest,
    LabResult,
    LabTest,
    Specimen,
)
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser
from hms_app.seed.laboratory_catalogue import PANELS, PRICES, SPECIMENS, TESTS, T
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.patients import format_mrn
from hms_app.services.permissions import SYSTEM_ACTOR

HBA1C, CREATININE = "4548-4", "2160-0"
LIPIDS = ("2093-3", "2571-8", "2085-9", "13457-7")
HISTORY_CAP = 6000
OPEN_PATIENTS = 12
CHUNK = 5000
ANALYSER = "COBAS c311"


def _decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def load_catalogue(session) -> dict[str, int]:
    """Insert the catalogue's price codes, tests, ranges and panels that are not there yet (by
    code); a test already present is left as the hospital edited it. Returns code -> test id."""
    departments = dict(session.execute(select(Department.code, Department.id)).all())
    have_prices = set(session.execute(select(ChargeItemDefinition.code)).scalars())
    prices = [
        {
            "code": code,
            "name": name,
            "category": "lab",
            "department_id": departments.get("LAB"),
            "price_cents": cents,
            "tax_rate_bp": 0,
            "active": True,
        }
        for code, name, cents in PRICES
        if code not in have_prices
    ]
    if prices:
        session.execute(insert(ChargeItemDefinition.__table__), prices)
    existing = dict(session.execute(select(LabTest.code, LabTest.id)).all())
    new = [t for t in (*TESTS, *PANELS) if t.code not in existing]
    if new:
        session.execute(
            insert(LabTest.__table__),
            [
                {
                    "code": t.code,
                    "name": t.name,
                    "short_name": t.short,
                    "is_panel": t.is_panel,
                    "specimen_type": SPECIMENS[t.specimen][0],
                    "container": SPECIMENS[t.specimen][1],
                    "result_type": t.kind,
                    "unit": t.unit,
                    "decimals": t.decimals,
                    "choices": t.choices,
                    "price_code": t.price,
                    "duplicate_window_hours": t.window,
                    "portal_delay_hours": t.portal_delay,
                    "active": True,
                }
                for t in new
            ],
        )
        ids = dict(session.execute(select(LabTest.code, LabTest.id)).all())
        ranges = [
            {
                "test_id": ids[t.code],
                "sex": r.sex,
                "age_min_days": r.age_min,
                "age_max_days": r.age_max,
                "low": _decimal(r.low),
                "high": _decimal(r.high),
                "critical_low": _decimal(r.critical_low),
                "critical_high": _decimal(r.critical_high),
                "delta_limit": _decimal(r.delta),
                "normal_text": r.normal,
            }
            for t in new
            for r in t.ranges
        ]
        if ranges:
            session.execute(insert(LabReferenceRange.__table__), ranges)
        members = [
            {"panel_id": ids[t.code], "test_id": ids[code], "position": n}
            for t in new
            if t.is_panel
            for n, code in enumerate(t.members)
        ]
        if members:
            session.execute(insert(LabPanelMember.__table__), members)
        existing = ids
    session.flush()
    return existing


@seeder("laboratory_catalogue", order=47)
def seed_catalogue(ctx: SeedContext) -> None:
    """The laboratory catalogue (after billing's, whose services its price codes name)."""
    before = ctx.session.execute(select(func.count(LabTest.id))).scalar_one()
    ids = load_catalogue(ctx.session)
    if len(ids) != before:
        record_audit(
            ctx.session,
            SYSTEM_ACTOR,
            "seed.laboratory_catalogue",
            detail=f"{len(ids) - before} tests and panels",
        )
    ctx.session.commit()


def _next_id(session, model) -> int:
    return int(session.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one()) + 1


class _Writer:
    """Builds the rows of requests, specimens, orders and released results, then inserts them."""

    def __init__(self, ctx: SeedContext, tests: dict[str, LabTest], ranges: dict[int, list[Limits]]):
        self.ctx, self.session, self.tests, self.ranges = ctx, ctx.session, tests, ranges
        session = ctx.session
        self.ids = {m: _next_id(session, m) for m in (LabRequest, Specimen, LabOrder, LabResult)}
        self.rows: dict[type, list[dict]] = defaultdict(list)
        self.observations: list[dict] = []
        self.previous: dict[tuple[int, int], Decimal] = {}
        users = dict(session.execute(select(AppUser.username, AppUser.id)).all())
        self.physician_id = users.get("dr.grey") or next(iter(users.values()), None)
        self.technician = "lab.tech" if "lab.tech" in users else "system"
        self.department_id = session.execute(select(Department.id).where(Department.code == "GEN")).scalar()

    def _take(self, model) -> int:
        value = self.ids[model]
        self.ids[model] += 1
        return value

    def request(
        self,
        patient,
        at: datetime,
        tests: list[tuple[T | LabTest, LabTest | None]],
        state: str,
        values: dict[str, object] | None = None,
        encounter_id: int | None = None,
    ) -> None:
        """One request of ``tests`` ((test, panel) pairs) ordered at ``at`` and taken as far as
        ``state`` (ordered | collected | received | resulted | released)."""
        request_id = self._take(LabRequest)
        self.rows[LabRequest].append(
            {
                "id": request_id,
                "reference": None,  # numbered in ``flush`` from the counter, in order
                "patient_id": patient.id,
                "encounter_id": encounter_id,
                "ordered_by_id": self.physician_id,
                "ordered_by": "dr.grey",
                "department_id": self.department_id,
                "ordered_at": at,
                "priority": "routine",
                "clinical_question": None,
                "fasting": False,
            }
        )
        steps = ("ordered", "collected", "received", "resulted", "released")
        reached = steps.index(state)
        collected = at + timedelta(minutes=25)
        received = collected + timedelta(minutes=30)
        resulted = received + timedelta(minutes=55)
        verified = resulted + timedelta(minutes=20)
        specimens: dict[tuple[str, str], int] = {}
        for test, panel in tests:
            key = (test.specimen_type, test.container)
            if key not in specimens:
                specimens[key] = self._take(Specimen)
                self.rows[Specimen].append(
                    {
                        "id": specimens[key],
                        "accession": None,
                        "request_id": request_id,
                        "patient_id": patient.id,
                        "specimen_type": key[0],
                        "container": key[1],
                        "status": ("pending", "collected", "received", "received", "received")[reached],
                        "collected_at": collected if reached >= 1 else None,
                        "collected_by": "nurse.joy" if reached >= 1 else None,
                        "received_at": received if reached >= 2 else None,
                        "received_by": self.technician if reached >= 2 else None,
                    }
                )
            order_id = self._take(LabOrder)
            self.rows[LabOrder].append(
                {
                    "id": order_id,
                    "request_id": request_id,
                    "patient_id": patient.id,
                    "test_id": test.id,
                    "panel_id": panel.id if panel is not None else None,
                    "specimen_id": specimens[key],
                    "priority": "routine",
                    "status": state,
                    "ordered_at": at,
                }
            )
            if reached >= 3 and values is not None and test.code in values:
                self._result(
                    patient,
                    test,
                    order_id,
                    values[test.code],
                    collected,
                    resulted,
                    verified,
                    reached == 4,
                    encounter_id,
                )

    def _result(self, patient, test, order_id, value, collected, resulted, verified, released, encounter_id):
        day = collected.date()
        limits = select_range(
            self.ranges.get(test.id, []), sex=patient.sex, age_days=age_in_days(patient.birth_date, day)
        )
        number = text_value = None
        delta = False
        if test.result_type == "numeric":
            number = Decimal(str(value)).quantize(Decimal(1).scaleb(-test.decimals))
            flag = numeric_flag(number, limits)
            key = (patient.id, test.id)
            delta = delta_exceeded(number, self.previous.get(key), limits)
            if released:
                self.previous[key] = number
        else:
            text_value = str(value)
            flag = coded_flag(text_value, limits)
        self.rows[LabResult].append(
            {
                "id": self._take(LabResult),
                "order_id": order_id,
                "patient_id": patient.id,
                "test_id": test.id,
                "value_numeric": number,
                "value_text": text_value,
                "unit": test.unit if number is not None else None,
                "flag": flag or None,
                "delta_flag": delta,
                "reference_text": reference_text(limits, test.decimals) or None,
                "status": "final" if released else "preliminary",
                "source": "analyser",
                "resulted_at": resulted,
                "entered_by": ANALYSER,
                "verified_at": verified if released else None,
                "verified_by": self.technician if released else None,
                "released_at": verified if released else None,
                "portal_visible_from": verified + timedelta(hours=test.portal_delay_hours)
                if released
                else None,
                "superseded_by_id": None,
                "comment": None,
            }
        )
        return number

    def observe(self, patient_id: int, test, value, at: datetime, encounter_id: int | None) -> None:
        """The chart's copy of a released numeric result (what release writes)."""
        self.observations.append(
            {
                "patient_id": patient_id,
                "encounter_id": encounter_id,
                "category": "laboratory",
                "code": test.code,
                "display": test.name[:120],
                "value": float(value),
                "unit": test.unit or "",
                "effective_at": at + timedelta(minutes=25),
                "recorded_by": self.technician,
                "status": "final",
            }
        )

    def flush(self) -> int:
        session = self.session
        requests, specimens = self.rows[LabRequest], self.rows[Specimen]
        if not requests:
            return 0
        for row, number in zip(requests, take_numbers(session, "lab_request", len(requests)), strict=True):
            row["reference"] = f"LR-{number:06d}"
        for row, number in zip(specimens, take_numbers(session, "lab_specimen", len(specimens)), strict=True):
            row["accession"] = f"S-{number:08d}"
        for model in (LabRequest, Specimen, LabOrder, LabResult):
            rows = self.rows[model]
            for start in range(0, len(rows), CHUNK):
                session.execute(insert(model.__table__), rows[start : start + CHUNK])
        for start in range(0, len(self.observations), CHUNK):
            session.execute(insert(Observation.__table__), self.observations[start : start + CHUNK])
        if session.get_bind().dialect.name == "postgresql":
            # Ids were given explicitly (the rows point at each other): move the sequences on.
            for table in ("lab_request", "specimen", "lab_order", "lab_result"):
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
                )
        return len(self.rows[LabResult])


def _lipids(rng) -> dict[str, int]:
    chol = max(110, min(320, int(rng.gauss(195, 38))))
    hdl = max(25, min(95, int(rng.gauss(47, 12))))
    tg = max(45, min(600, int(rng.gauss(160, 70))))
    ldl = max(30, chol - hdl - tg // 5)  # Friedewald, as "by calculation" says
    return {"2093-3": chol, "2571-8": tg, "2085-9": hdl, "13457-7": ldl}


@seeder("laboratory_demo", order=75)
def seed_demo(ctx: SeedContext) -> None:
    """The demo's laboratory history and today's work (see the module docstring)."""
    session, rng = ctx.session, ctx.rng
    if session.execute(select(LabRequest.id).limit(1)).first():
        return  # already seeded
    tests = {t.code: t for t in session.execute(select(LabTest)).scalars()}
    if HBA1C not in tests or not session.execute(select(AppUser.id).limit(1)).first():
        return
    ranges: dict[int, list[Limits]] = defaultdict(list)
    for r in session.execute(select(LabReferenceRange)).scalars():
        ranges[r.test_id].append(
            Limits(
                r.sex,
                r.age_min_days,
                r.age_max_days,
                r.low,
                r.high,
                r.critical_low,
                r.critical_high,
                r.delta_limit,
                r.normal_text,
            )
        )
    writer = _Writer(ctx, tests, ranges)
    history = session.execute(
        select(
            Observation.patient_id,
            Observation.encounter_id,
            Observation.code,
            Observation.value,
            Observation.effective_at,
        )
        .where(Observation.category == "laboratory", Observation.code.in_((HBA1C, CREATININE)))
        .order_by(Observation.effective_at.desc(), Observation.id.desc())
        .limit(HISTORY_CAP)
    ).all()
    first = ctx.shared.get("first_mrn_number")
    portal_id = (
        session.execute(select(Patient.id).where(Patient.mrn == format_mrn(first))).scalar_one_or_none()
        if first is not None
        else None
    )
    now = datetime.combine(ctx.as_of, time(7, 30), tzinfo=UTC)
    open_ids = list(
        session.execute(
            select(Patient.id)
            .where(Patient.active.is_(True), Patient.deceased_at.is_(None))
            .order_by(Patient.id)
            .limit(OPEN_PATIENTS + 1)
        ).scalars()
    )
    wanted = {p for p, *_ in history} | set(open_ids) | ({portal_id} if portal_id else set())
    patients = (
        {
            p.id: p
            for p in session.execute(
                select(Patient.id, Patient.sex, Patient.birth_date).where(Patient.id.in_(wanted))
            ).all()
        }
        if wanted
        else {}
    )
    diabetics = set(session.execute(select(Condition.patient_id).where(Condition.code == "E11.9")).scalars())
    latest_a1c: dict[int, tuple[datetime, int | None]] = {}
    for patient_id, encounter_id, code, value, effective_at in reversed(history):  # oldest first
        patient = patients[patient_id]
        at = effective_at - timedelta(minutes=25)
        writer.request(patient, at, [(tests[code], None)], "released", {code: value}, encounter_id)
        if code == HBA1C:
            latest_a1c[patient_id] = (at, encounter_id)
    lipid_panel = tests.get("24331-1")
    lipid_members = [(tests[c], lipid_panel) for c in LIPIDS if c in tests]
    for patient_id, (at, encounter_id) in sorted(latest_a1c.items()):
        if patient_id not in diabetics or not lipid_members:
            continue
        values = _lipids(rng)
        writer.request(
            patients[patient_id], at + timedelta(minutes=1), lipid_members, "released", values, encounter_id
        )
        for test, _panel in lipid_members:
            writer.observe(patient_id, test, values[test.code], at + timedelta(minutes=1), encounter_id)
    if portal_id in patients:
        portal = patients[portal_id]
        at = now - timedelta(days=9)
        values = _lipids(rng)
        writer.request(portal, at, lipid_members, "released", values)
        for test, _panel in lipid_members:
            writer.observe(portal_id, test, values[test.code], at, None)
        cbc = [(tests[c], tests.get("58410-2")) for c in ("6690-2", "718-7", "777-3") if c in tests]
        writer.request(portal, at, cbc, "released", {"6690-2": 6.4, "718-7": 13.1, "777-3": 251})
        if "56888-1" in tests:  # released this morning: the portal shows it only after its delay
            writer.request(
                portal,
                now - timedelta(hours=3),
                [(tests["56888-1"], None)],
                "released",
                {"56888-1": "Non-reactive"},
            )
    bmp_panel, cbc_panel = tests.get("51990-0"), tests.get("58410-2")
    bmp = [
        (t, bmp_panel)
        for t in session.execute(
            select(LabTest)
            .join(LabPanelMember, LabPanelMember.test_id == LabTest.id)
            .where(LabPanelMember.panel_id == (bmp_panel.id if bmp_panel else -1))
            .order_by(LabPanelMember.position)
        ).scalars()
    ]
    cbc = [
        (t, cbc_panel)
        for t in session.execute(
            select(LabTest)
            .join(LabPanelMember, LabPanelMember.test_id == LabTest.id)
            .where(LabPanelMember.panel_id == (cbc_panel.id if cbc_panel else -1))
            .order_by(LabPanelMember.position)
        ).scalars()
    ]
    normal = {
        "2951-2": 139,
        "2823-3": 4.2,
        "2075-0": 102,
        "2028-9": 25,
        "3094-0": 14,
        "2160-0": 0.92,
        "2345-7": 96,
        "17861-6": 9.4,
        "6690-2": 7.1,
        "789-8": 4.6,
        "718-7": 13.8,
        "4544-3": 41.5,
        "787-2": 90,
        "785-6": 30.0,
        "786-4": 33.5,
        "788-0": 13.1,
        "777-3": 245,
        "32623-1": 9.6,
    }
    states = ("ordered", "collected", "received", "received", "resulted", "resulted")
    for n, patient_id in enumerate(p for p in open_ids if p != portal_id):
        if n >= OPEN_PATIENTS or not bmp or not cbc:
            break
        values = {code: round(v * rng.uniform(0.93, 1.07), 2) for code, v in normal.items()}
        at = now - timedelta(minutes=30 + 20 * n)
        writer.request(patients[patient_id], at, bmp + cbc, states[n % len(states)], values)
    results = writer.flush()
    record_audit(
        session,
        SYSTEM_ACTOR,
        "seed.laboratory",
        detail=f"{len(writer.rows[LabRequest])} requests, {results} results, "
        f"{len(writer.observations)} observations",
    )
    session.commit()

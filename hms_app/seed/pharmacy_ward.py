"""The demo's ward medicines: inpatients on the demo wards get the orders a medical ward writes every
day (paracetamol, omeprazole, enoxaparin, amoxicillin, PRN ondansetron), signed by the demo
physician the morning before, verified by the pharmacist, and the doses due before the seed's
morning charted by the demo nurse through the MAR's own service: scanned wristband, scanned product
code. A couple of doses are held with a reason, and the first two patients' latest morning doses
are left unrecorded, so that the ward board shows late doses on first start.

Orders go through the same services staff use (checks, signing, verification, the five rights); an
order the checks stop for a patient (an allergy, say) is skipped, as a physician would.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from hms_app.clock import held_at, utcnow
from hms_app.errors import DomainError
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import FormularyProduct, MedicationOrder
from hms_app.models.wards import Admission
from hms_app.seed.actors import demo_actors
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.pharmacy.administration import record_administration
from hms_app.services.pharmacy.mar import scheduled_doses
from hms_app.services.pharmacy.prescribing import prepare_order, sign_order
from hms_app.services.pharmacy.verification import verify_order
from hms_app.settings import get_settings

WARD_PATIENTS = 6
LEFT_LATE = 2  # the first patients' last morning dose stays unrecorded
# (product code, the order as the prescribe dialog sends it)
WARD_ORDERS = (
    (
        "RX-APAP-500-TAB",
        {"dose": "1", "dose_unit": "g", "route": "oral", "frequency": "QID", "duration_days": "5"},
    ),
    (
        "RX-OMEP-20-CAP",
        {"dose": "20", "dose_unit": "mg", "route": "oral", "frequency": "QD", "duration_days": "7"},
    ),
    (
        "RX-ENOX-40-INJ",
        {"dose": "40", "dose_unit": "mg", "route": "sc", "frequency": "QD", "duration_days": "7"},
    ),
    (
        "RX-AMOX-500-CAP",
        {"dose": "500", "dose_unit": "mg", "route": "oral", "frequency": "TID", "duration_days": "5"},
    ),
    (
        "RX-ONDAN-4-INJ",
        {
            "dose": "4",
            "dose_unit": "mg",
            "route": "iv",
            "frequency": "PRN",
            "prn": "on",
            "prn_indication": "nausea",
            "max_doses_per_day": "3",
            "duration_days": "3",
        },
    ),
)


@seeder("pharmacy_ward", order=78)
def seed_ward_medicines(ctx: SeedContext) -> None:
    session = ctx.session
    if session.execute(
        select(MedicationOrder.id).where(MedicationOrder.setting == "inpatient").limit(1)
    ).first():
        return  # already seeded
    actors = demo_actors(session)
    physician, pharmacist, nurse = actors.get("dr.grey"), actors.get("pharmacy"), actors.get("nurse.joy")
    if not (physician and pharmacist and nurse):
        return
    products = dict(session.execute(select(FormularyProduct.code, FormularyProduct.id)).all())
    if any(code not in products for code, _ in WARD_ORDERS):
        return
    inpatients = session.execute(
        select(Patient.id, Patient.mrn)
        .join(Admission, Admission.patient_id == Patient.id)
        .where(Admission.status == "active")
        .order_by(Admission.id)
        .limit(WARD_PATIENTS)
    ).all()
    tz = get_settings().tz
    # The seed's morning on the ward; never a dose charted ahead of the real clock (a demo started
    # at 03:00 has charted the night's doses, not the morning's).
    morning = min(datetime.combine(ctx.as_of, time(10, 30), tzinfo=tz), utcnow())
    signed_at = datetime.combine(ctx.as_of - timedelta(days=1), time(7, 0), tzinfo=tz)
    for index, (patient_id, mrn) in enumerate(inpatients):
        orders = []
        for code, fields in WARD_ORDERS[: 3 + index % 3]:
            data = {"product_id": products[code], "setting": "inpatient", **fields}
            try:
                with held_at(signed_at):
                    prepared = prepare_order(session, actor=physician, patient_id=patient_id, data=data)
                    if any(alert.interrupt for alert in prepared.alerts):
                        continue  # the physician heeds an interrupting alert in the demo
                    order_id = sign_order(session, actor=physician, order_id=prepared.order_id).order_id
                with held_at(signed_at + timedelta(minutes=30)):
                    verify_order(session, actor=pharmacist, order_id=order_id)
            except DomainError:
                session.rollback()
                continue
            orders.append((order_id, code, fields))
        _chart_doses(ctx, session, nurse, patient_id, mrn, orders, signed_at, morning, late=index < LEFT_LATE)
    session.commit()


def _chart_doses(ctx, session, nurse, patient_id, mrn, orders, since, until, *, late: bool) -> None:
    """The doses due between the order's signing and the seed's morning, as the nurse charted them."""
    for order_id, code, fields in orders:
        order = session.get(MedicationOrder, order_id)
        doses = scheduled_doses(order, since, until)
        if late and doses:
            doses = doses[:-1]  # the morning's dose is not charted yet: late on the board
        for moment in doses:
            held = ctx.rng.random() < 0.05
            try:
                with held_at(moment + timedelta(minutes=ctx.rng.randint(0, 40))):
                    record_administration(
                        session,
                        actor=nurse,
                        patient_id=patient_id,
                        order_id=order_id,
                        outcome="held" if held else "given",
                        scheduled_at=moment.isoformat(),
                        wristband=mrn,
                        medicine=code,
                        dose=fields["dose"],
                        route=fields["route"],
                        reason="Patient asleep; to review at the next round" if held else None,
                    )
            except DomainError:
                session.rollback()

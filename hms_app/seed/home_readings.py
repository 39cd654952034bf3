"""Demo home readings: four weeks of blood pressure for the demo portal patient (whose physician set
a systolic limit of 160, crossed two days ago: an open alert on /home-readings), and four weeks of
meter glucose, with an early low that a nurse already cleared, for a second patient.

Written through the same services the portal and the board use, the clock held at each moment,
so every row, observation and audit entry carries the time it stands for. Deterministic: the
context's seed drives every number.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from hms_app.clock import held_at
from hms_app.models.home_readings import HomeReading
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser
from hms_app.seed.demo import DEMO_PATIENT_USERNAME
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.home_readings import clear_alert, record_home_reading, set_limits
from hms_app.services.permissions import Actor

DAYS = 28


def _staff(ctx: SeedContext, username: str) -> Actor:
    user_id = ctx.session.execute(select(AppUser.id).where(AppUser.username == username)).scalar_one_or_none()
    return Actor(
        user_id=user_id or 0,
        username=username,
        roles=frozenset({"nurse"}),
        permissions=frozenset({"reading.review"}),
    )


def _patient_actor(user_id: int, username: str, patient_id: int) -> Actor:
    return Actor(
        user_id=user_id,
        username=username,
        roles=frozenset({"patient"}),
        permissions=frozenset({"portal.self"}),
        patient_id=patient_id,
    )


def _blood_pressure(ctx: SeedContext, rng: random.Random, me: Actor, start: datetime) -> int:
    """Mornings and some evenings, drifting up in the last week; the reading two days ago is 168/98."""
    count = 0
    for day in range(DAYS, 0, -1):
        for hour in (7, 20):
            if hour == 20 and rng.random() < 0.6:
                continue
            moment = start - timedelta(days=day) + timedelta(hours=hour - 6, minutes=rng.randint(0, 40))
            drift = 8 if day <= 7 else 0
            systolic = rng.randint(128, 150) + drift
            if day == 2 and hour == 7:
                systolic, diastolic = 168, 98
            else:
                systolic = min(systolic, 158)
                diastolic = min(rng.randint(78, 92) + drift // 2, systolic - 30)
            with held_at(moment + timedelta(minutes=3)):
                record_home_reading(
                    ctx.session,
                    actor=me,
                    patient_id=me.patient_id,
                    kind="blood_pressure",
                    values={
                        "systolic": str(systolic),
                        "diastolic": str(diastolic),
                        "pulse": str(rng.randint(62, 84)),
                    },
                    measured_at=moment,
                )
            count += 1
        if day % 7 == 0:
            with held_at(start - timedelta(days=day) + timedelta(hours=1, minutes=15)):
                record_home_reading(
                    ctx.session,
                    actor=me,
                    patient_id=me.patient_id,
                    kind="weight",
                    values={"weight": f"{81.5 + rng.uniform(-0.8, 0.8):.1f}"},
                )
            count += 1
    return count


def _glucose(ctx: SeedContext, rng: random.Random, me: Actor, nurse: Actor, start: datetime) -> int:
    count = 0
    for day in range(DAYS, 0, -1):
        moment = start - timedelta(days=day) + timedelta(hours=1, minutes=rng.randint(0, 30))
        value = rng.randint(95, 165)
        if day == 20:
            value = 62  # a low before breakfast: cleared by the nurse the same morning
        unit = "mmol/L" if day % 3 == 0 else "mg/dL"
        typed = f"{value / 18.016:.1f}" if unit == "mmol/L" else str(value)
        with held_at(moment + timedelta(minutes=2)):
            done = record_home_reading(
                ctx.session,
                actor=me,
                patient_id=me.patient_id,
                kind="glucose",
                values={"glucose": typed},
                measured_at=moment,
                glucose_unit=unit,
            )
        count += 1
        if done.alert_text:
            with held_at(moment + timedelta(hours=2)):
                clear_alert(
                    ctx.session,
                    actor=nurse,
                    reading_id=done.reading_id,
                    note="Called: had skipped supper, took juice, recheck 104 mg/dL. Advised a bedtime snack.",
                )
    return count


@seeder("home_readings", order=90)
def seed_home_readings(ctx: SeedContext) -> None:
    if ctx.session.execute(select(HomeReading.id).limit(1)).first():
        return
    user = ctx.session.execute(
        select(AppUser.id, AppUser.patient_id).where(AppUser.username == DEMO_PATIENT_USERNAME)
    ).first()
    if user is None or user.patient_id is None:
        return
    rng = random.Random(ctx.seed * 7919 + 17)
    start = datetime.combine(ctx.as_of, time(6, 0), tzinfo=UTC)
    physician, nurse = _staff(ctx, "dr.grey"), _staff(ctx, "nurse.joy")
    with held_at(start - timedelta(days=DAYS + 1)):
        set_limits(
            ctx.session,
            actor=physician,
            patient_id=user.patient_id,
            limits={
                "systolic_low": "90",
                "systolic_high": "160",
                "diastolic_low": "50",
                "diastolic_high": "100",
            },
            reason="Hypertension, titrating treatment: tell me above 160/100.",
        )
    me = _patient_actor(user.id, DEMO_PATIENT_USERNAME, user.patient_id)
    total = _blood_pressure(ctx, rng, me, start)
    other = (
        ctx.session.execute(
            select(Patient.id)
            .where(Patient.id != user.patient_id, Patient.merged_into_id.is_(None))
            .order_by(Patient.id)
        )
        .scalars()
        .first()
    )
    if other is not None:
        total += _glucose(ctx, rng, _patient_actor(0, f"home-{other}", other), nurse, start)
    ctx.progress("home readings", total, total)

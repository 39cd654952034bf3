"""Demo data for scheduling: clinics, templates, ~90 days of history and the next 30 days.

Bookable resources for the demo departments (the physician users become providers, plus
named clinicians where a department has no account), examination rooms, an MRI and a CT
scanner and an ultrasound; services with visit types priced with the billing catalogue codes;
weekly templates; public holidays and one provider's leave. Appointments are generated per
provider per working day straight from the templates (never overlapping, so the
``resource_block`` guard holds), bulk-inserted with their participants, blocks, queue tokens
and reminder outbox rows. The amount scales with the patient count but stays a few thousand.

Today's appointments are split around the moment of seeding when ``as_of`` is today (the
ones already over are completed or missed, the current ones are in the waiting room or with
the doctor); for another ``as_of`` the day is split at noon. Every random draw comes from
``ctx.rng`` in the same order, so one seed and as_of always give the same appointments.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import insert, select

from hms_app.clock import utcnow
from hms_app.models.organization import Counter, Department
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    HOLDING_STATUSES,
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    HealthcareService,
    ReminderMessage,
    Resource,
    ResourceBlock,
    ResourceService,
    WaitlistEntry,
)
from hms_app.models.security import AppUser, Role, UserRole
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.scheduling import block_starts, local_moment, make_reference
from hms_app.settings import get_settings

PAST_DAYS = 90
FUTURE_DAYS = 30
VALID_FROM = date(2024, 1, 1)

# department: named clinicians (added to the physician accounts working there)
CLINICIANS = {
    "GEN": ["Dr Samuel Okoye", "Dr Laura Chen"],
    "CARD": ["Dr Priya Raman", "Dr Jonas Weber"],
    "PED": ["Dr Lucia Moreno", "Dr Tom Becker"],
    "OBG": ["Dr Hannah Cole"],
    "ORTH": ["Dr Marco Rossi", "Dr Aisha Khan"],
}
ROOMS = {
    "GEN": ["GP room 1", "GP room 2", "GP room 3"],
    "CARD": ["Cardiology room 1", "Cardiology room 2"],
    "PED": ["Paediatric room 1", "Paediatric room 2"],
    "OBG": ["Antenatal room"],
    "ORTH": ["Orthopaedic room 1", "Plaster room"],
}
EQUIPMENT = [  # name, capability, department, weekdays, hours
    ("MRI scanner", "mri", "RAD", range(5), (time(7), time(19))),
    ("CT scanner", "ct", "RAD", range(6), (time(7), time(19))),
    ("Ultrasound 1", "ultrasound", "RAD", range(5), (time(8), time(17))),
]
# code, name, department, self-bookable, visit types (code, name, minutes, price code, mode, needs room, equipment)
# Who a service is for (youngest, oldest, sex): the portal offers it only to patients it fits.
ELIGIBILITY = {"PAED": (None, 17, None), "ANC": (12, 55, "female")}

SERVICES = [
    ("GP", "General practice consultation", "GEN", True, [
        ("STD", "Consultation", 20, "VISIT-GP", "in_person", True, None),
        ("LONG", "Long consultation", 40, "VISIT-GP", "in_person", True, None),
        ("FU", "Follow-up", 15, "VISIT-FOLLOWUP", "in_person", True, None),
        ("VIDEO", "Video consultation", 15, "VISIT-VIRTUAL", "virtual", False, None),
    ]),
    ("CARDIO", "Cardiology clinic", "CARD", False, [
        ("NEW", "New patient", 40, "VISIT-CARD", "in_person", True, None),
        ("FU", "Follow-up", 20, "VISIT-FOLLOWUP", "in_person", True, None),
        ("ECHO", "Echocardiogram", 30, "PROC-ECHO", "in_person", True, "ultrasound"),
    ]),
    ("PAED", "Paediatric clinic", "PED", True, [
        ("STD", "Consultation", 20, "VISIT-PED", "in_person", True, None),
        ("VACC", "Vaccination", 10, "PROC-VACC", "in_person", True, None),
    ]),
    ("ANC", "Antenatal care", "OBG", True, [
        ("ANC", "Antenatal visit", 30, "VISIT-OBG", "in_person", True, None),
    ]),
    ("ORTHO", "Orthopaedic clinic", "ORTH", False, [
        ("NEW", "New patient", 30, "VISIT-ORTH", "in_person", True, None),
        ("FU", "Follow-up", 15, "VISIT-FOLLOWUP", "in_person", True, None),
        ("CAST", "Cast check", 20, "PROC-CAST", "in_person", True, None),
        ("VIDEO", "Video follow-up", 15, "VISIT-VIRTUAL", "virtual", False, None),
    ]),
    ("MRI", "MRI scan", "RAD", False, [("KNEE", "MRI knee", 45, "IMG-MRI-KNEE", "in_person", False, None)]),
    ("CT", "CT scan", "RAD", False, [("HEAD", "CT head", 20, "IMG-CT-HEAD", "in_person", False, None)]),
    ("US", "Ultrasound", "RAD", False, [("ABD", "Abdominal ultrasound", 30, "IMG-US-ABD", "in_person", False, None)]),
]  # fmt: skip
SERVICE_EQUIPMENT = {"MRI": "mri", "CT": "ct", "US": "ultrasound"}
CANCEL_REASONS = [
    "Patient feels better",
    "Patient unwell, will rebook",
    "Work commitment",
    "Transport problem",
    "Booked elsewhere",
    "Clinic rescheduled",
]


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def _holidays(first: date, last: date) -> list[tuple[date, str]]:
    out = []
    for year in {first.year, last.year}:
        for day, name in (
            (date(year, 1, 1), "New Year's Day"),
            (date(year, 7, 4), "Independence Day"),
            (_thanksgiving(year), "Thanksgiving"),
            (date(year, 12, 25), "Christmas Day"),
        ):
            if first <= day <= last:
                out.append((day, name))
    return sorted(out)


@seeder("scheduling", order=55)
def seed_scheduling(ctx: SeedContext) -> None:
    session, rng = ctx.session, ctx.rng
    if session.execute(select(HealthcareService.id).limit(1)).first():
        return
    tz = get_settings().tz
    departments = dict(session.execute(select(Department.code, Department.id)).all())
    if "GEN" not in departments:
        return

    # --- resources ------------------------------------------------------------------------------
    physicians = session.execute(
        select(AppUser.id, AppUser.display_name, AppUser.department_id)
        .join(UserRole, UserRole.user_id == AppUser.id)
        .join(Role, Role.id == UserRole.role_id)
        .where(Role.name == "physician", AppUser.is_active.is_(True))
        .order_by(AppUser.id)
    ).all()
    providers: dict[str, list[Resource]] = defaultdict(list)
    code_by_department = {v: k for k, v in departments.items()}
    for user_id, name, department_id in physicians:
        code = code_by_department.get(department_id, "GEN")
        code = code if code in CLINICIANS else "GEN"
        providers[code].append(
            Resource(kind="provider", name=name, department_id=departments[code], user_id=user_id)
        )
    for code, names in CLINICIANS.items():
        if code in departments:
            providers[code] += [
                Resource(kind="provider", name=n, department_id=departments[code]) for n in names
            ]
    rooms = {
        code: [Resource(kind="room", name=n, department_id=departments[code]) for n in names]
        for code, names in ROOMS.items()
        if code in departments
    }
    equipment = {
        capability: Resource(
            kind="equipment", name=name, department_id=departments[dept], capability=capability
        )
        for name, capability, dept, _days, _hours in EQUIPMENT
        if dept in departments
    }
    session.add_all([r for group in providers.values() for r in group])
    session.add_all([r for group in rooms.values() for r in group])
    session.add_all(equipment.values())
    session.flush()

    # --- services, visit types, links -------------------------------------------------------------
    services: dict[str, HealthcareService] = {}
    types: dict[str, list[AppointmentType]] = {}
    for code, name, dept, self_bookable, visit_types in SERVICES:
        if dept not in departments:
            continue
        min_age, max_age, for_sex = ELIGIBILITY.get(code, (None, None, None))
        service = HealthcareService(
            code=code,
            name=name,
            department_id=departments[dept],
            self_bookable=self_bookable,
            min_age=min_age,
            max_age=max_age,
            for_sex=for_sex,
        )
        session.add(service)
        session.flush()
        services[code] = service
        types[code] = [
            AppointmentType(
                service_id=service.id, code=t_code, name=t_name, duration_minutes=minutes, price_code=price,
                mode=mode, needs_room=room, needs_equipment=needs,
            )
            for t_code, t_name, minutes, price, mode, room, needs in visit_types
        ]  # fmt: skip
        session.add_all(types[code])
    session.flush()
    links = []
    primaries: dict[str, list[Resource]] = {}
    service_rooms: dict[str, list[Resource]] = {}
    for code, service in services.items():
        dept = next(d for c, _n, d, _s, _t in SERVICES if c == code)
        if code in SERVICE_EQUIPMENT:
            primaries[code] = [equipment[SERVICE_EQUIPMENT[code]]]
            service_rooms[code] = []
        else:
            primaries[code] = providers[dept]
            service_rooms[code] = rooms.get(dept, [])
        linked = primaries[code] + service_rooms[code]
        if any(t.needs_equipment == "ultrasound" for t in types[code]):
            linked.append(equipment["ultrasound"])
        links += [{"resource_id": r.id, "service_id": service.id} for r in linked]
    session.execute(insert(ResourceService), links)

    # --- weekly templates ----------------------------------------------------------------------------
    rules = []
    schedule: dict[int, dict[int, list[tuple[time, time]]]] = {}  # resource -> weekday -> spans
    for dept, group in providers.items():
        for n, provider in enumerate(group):
            # Mornings and afternoons on weekdays; one in three has a free weekday afternoon;
            # the first GP also works Saturday mornings.
            week = {d: [(time(8), time(12)), (time(13), time(17))] for d in range(5)}
            if n % 3 == 1:
                week[(n + 2) % 5] = [(time(8), time(12))]
            if dept == "GEN" and n == 0:
                week[5] = [(time(9), time(12))]
            schedule[provider.id] = week
    for _name, capability, _dept, days, (start, end) in EQUIPMENT:
        if capability in equipment:
            schedule[equipment[capability].id] = {d: [(start, end)] for d in days}
    for resource_id, week in schedule.items():
        for weekday, spans in week.items():
            for start, end in spans:
                rules.append(
                    {"resource_id": resource_id, "weekday": weekday, "start_time": start, "end_time": end,
                     "valid_from": VALID_FROM, "valid_to": None}
                )  # fmt: skip
    session.execute(insert(AvailabilityRule), rules)

    # --- holidays and leave ------------------------------------------------------------------------
    first_day, last_day = ctx.as_of - timedelta(days=PAST_DAYS), ctx.as_of + timedelta(days=FUTURE_DAYS)
    exceptions = []
    closed_days: set[date] = set()
    for day, name in _holidays(first_day, last_day):
        if abs((day - ctx.as_of).days) <= 1:
            continue  # the demo opens on a working day, so its boards and calendars have a day to show
        closed_days.add(day)
        exceptions.append(
            {"resource_id": None, "department_id": None, "starts_at": local_moment(day, time(0), tz),
             "ends_at": local_moment(day + timedelta(days=1), time(0), tz), "kind": "holiday",
             "reason": f"{name} (outpatient clinics closed)", "created_by": "system"}
        )  # fmt: skip
    on_leave: dict[int, set[date]] = defaultdict(set)
    leave_provider = providers["CARD"][0] if providers.get("CARD") else None
    if leave_provider is not None:
        start = ctx.as_of + timedelta(days=(7 - ctx.as_of.weekday()) % 7 + 7)  # the Monday after next
        days = [start + timedelta(days=n) for n in range(5)]
        on_leave[leave_provider.id].update(days)
        exceptions.append(
            {"resource_id": leave_provider.id, "department_id": None, "starts_at": local_moment(days[0], time(0), tz),
             "ends_at": local_moment(days[-1] + timedelta(days=1), time(0), tz), "kind": "leave",
             "reason": "Annual leave", "created_by": "system"}
        )  # fmt: skip
    past_leave = providers["ORTH"][1] if len(providers.get("ORTH", [])) > 1 else None
    if past_leave is not None:
        start = ctx.as_of - timedelta(days=40)
        days = [start + timedelta(days=n) for n in range(3)]
        on_leave[past_leave.id].update(days)
        exceptions.append(
            {"resource_id": past_leave.id, "department_id": None, "starts_at": local_moment(days[0], time(0), tz),
             "ends_at": local_moment(days[-1] + timedelta(days=1), time(0), tz), "kind": "leave",
             "reason": "Conference", "created_by": "system"}
        )  # fmt: skip
    if exceptions:
        session.execute(insert(AvailabilityException), exceptions)

    # --- patients who use the clinics ----------------------------------------------------------------
    patient_rows = session.execute(
        select(
            Patient.id,
            Patient.given_name,
            Patient.email,
            Patient.phone,
            Patient.consent_sms,
            Patient.birth_date,
            Patient.sex,
        )
        .where(Patient.active.is_(True), Patient.merged_into_id.is_(None))
        .order_by(Patient.id)
        .limit(8000)  # the clinics' regulars; with 100k patients the rest simply have no visits
    ).all()
    if not patient_rows:
        session.commit()
        return
    contact = {p.id: p for p in patient_rows}
    adults = [p.id for p in patient_rows if (ctx.as_of - p.birth_date).days >= 18 * 365]
    children = [p.id for p in patient_rows if (ctx.as_of - p.birth_date).days < 18 * 365] or adults
    women = [
        p.id
        for p in patient_rows
        if p.sex == "female" and 18 * 365 <= (ctx.as_of - p.birth_date).days < 45 * 365
    ]
    women = women or adults
    frequent_no_show = set(rng.sample([p.id for p in patient_rows], max(1, len(patient_rows) // 30)))
    portal_patient = patient_rows[0].id

    scale = min(0.6, max(0.25, ctx.patients / 3000))  # history grows with the hospital, within bounds
    if ctx.as_of == utcnow().astimezone(tz).date():
        now = utcnow().replace(second=0, microsecond=0)
    else:
        now = local_moment(ctx.as_of, time(12), tz)

    # --- appointments, generated from the templates --------------------------------------------------
    busy: dict[int, set[datetime]] = defaultdict(set)  # resource -> held 5-minute blocks
    patient_days: set[tuple[int, date]] = set()
    references: set[str] = set()
    planned: list[dict] = []
    resources_of: list[list[int]] = []
    provider_bias = {}
    for group in providers.values():
        for provider in group:
            provider_bias[provider.id] = rng.uniform(0.6, 1.6)

    def fill_rate(day: date) -> float:
        offset = (day - ctx.as_of).days
        if offset == 0:
            return 0.5  # a busy day on the boards, whatever the size
        if offset < 0:
            return 0.45 * scale
        return max(0.08, 0.6 - 0.02 * offset) * (scale if offset > 3 else 1.0)

    def pick_patient(code: str, day: date) -> int | None:
        pool = children if code == "PAED" else women if code == "ANC" else adults
        for _ in range(4):
            candidate = rng.choice(pool)
            if (candidate, day) not in patient_days:
                patient_days.add((candidate, day))
                return candidate
        return None

    day = first_day
    while day <= last_day:
        if day not in closed_days:
            rate = fill_rate(day)
            for code, service in services.items():
                service_types = types[code]
                weights = [
                    3 if t.code in ("STD", "FU", "ANC", "KNEE", "HEAD", "ABD") else 1 for t in service_types
                ]
                for primary in primaries[code]:
                    if day in on_leave.get(primary.id, ()):
                        continue
                    for span_start, span_end in schedule.get(primary.id, {}).get(day.weekday(), []):
                        cursor = local_moment(day, span_start, tz)
                        end_of_span = local_moment(day, span_end, tz)
                        while cursor < end_of_span:
                            vtype = rng.choices(service_types, weights)[0]
                            length = timedelta(minutes=vtype.duration_minutes)
                            take = rng.random() < rate
                            if not take or cursor + length > end_of_span:
                                cursor += timedelta(minutes=15 if not take else 5)
                                continue
                            blocks = block_starts(cursor, cursor + length)
                            if any(b in busy[primary.id] for b in blocks):
                                cursor += timedelta(minutes=5)
                                continue
                            chosen = [primary]
                            if vtype.needs_room:
                                room = next(
                                    (
                                        r
                                        for r in service_rooms[code]
                                        if not any(b in busy[r.id] for b in blocks)
                                    ),
                                    None,
                                )
                                if room is None:
                                    cursor += timedelta(minutes=5)
                                    continue
                                chosen.append(room)
                            if vtype.needs_equipment:
                                unit = equipment.get(vtype.needs_equipment)
                                if unit is None or any(b in busy[unit.id] for b in blocks):
                                    cursor += length
                                    continue
                                chosen.append(unit)
                            patient_id = pick_patient(code, day)
                            if patient_id is None:
                                cursor += length
                                continue
                            row = _appointment_row(
                                rng, ctx, service, vtype, patient_id, cursor, length, now,
                                no_show_risk=0.07 * provider_bias.get(primary.id, 1.0)
                                * (5 if patient_id in frequent_no_show else 1),
                                references=references,
                            )  # fmt: skip
                            # A no-show keeps its time in the plan, so that the generated rows do not depend on the
                            # hour of seeding (only their statuses do).
                            if row["status"] != "cancelled":
                                for r in chosen:
                                    busy[r.id].update(blocks)
                            planned.append(row)
                            resources_of.append([r.id for r in chosen])
                            cursor += length
        day += timedelta(days=1)
        ctx.progress("appointments", (day - first_day).days, PAST_DAYS + FUTURE_DAYS + 1)

    # The demo portal patient has a history and a visit coming up.
    _portal_patient_visits(rng, ctx, services, types, primaries, service_rooms, busy, planned, resources_of,
                           portal_patient, now, references, tz)  # fmt: skip

    _assign_queue_tokens(session, planned, tz, ctx.as_of)
    ids = _insert_appointments(session, planned)
    participants, blocks = [], []
    for appointment_id, row, chosen in zip(ids, planned, resources_of, strict=True):
        participants += [{"appointment_id": appointment_id, "resource_id": rid} for rid in chosen]
        if row["status"] in HOLDING_STATUSES:
            blocks += [
                {"resource_id": rid, "starts_at": s, "appointment_id": appointment_id}
                for rid in chosen
                for s in block_starts(row["start_at"], row["end_at"])
            ]
    for chunk in range(0, len(participants), 5000):
        session.execute(insert(AppointmentParticipant), participants[chunk : chunk + 5000])
    for chunk in range(0, len(blocks), 5000):
        session.execute(insert(ResourceBlock), blocks[chunk : chunk + 5000])

    # --- reminders (outbox) and waitlist -----------------------------------------------------------
    service_names = {s.id: s.name for s in services.values()}
    outbox = []
    for appointment_id, row in zip(ids, planned, strict=True):
        if row["start_at"] < now - timedelta(days=14) or row["status"] == "cancelled":
            continue
        person = contact.get(row["patient_id"])
        if person is None:
            continue
        if person.email:
            channel, recipient = "email", person.email
        elif person.phone and person.consent_sms:
            channel, recipient = "sms", person.phone
        else:
            continue
        for hours in (24, 2):
            due = row["start_at"] - timedelta(hours=hours)
            if due < row["created_at"]:
                continue
            sent = due <= now
            local = row["start_at"].astimezone(tz)
            outbox.append(
                {"appointment_id": appointment_id, "patient_id": row["patient_id"], "kind": "reminder",
                 "channel": channel, "recipient": recipient,
                 "subject": f"Reminder: {service_names[row['service_id']]} on {local:%d %b %H:%M}",
                 "body": f"Dear {person.given_name}, this is a reminder of your {service_names[row['service_id']]} "
                         f"appointment on {local:%A %d %B %Y at %H:%M} (reference {row['reference']}). "
                         "If you cannot come, please cancel or reschedule in the patient portal.",
                 "due_at": due, "status": "sent" if sent else "pending", "attempts": 1 if sent else 0,
                 "last_error": None, "sent_at": due if sent else None, "created_at": row["created_at"]}
            )  # fmt: skip
    for chunk in range(0, len(outbox), 5000):
        session.execute(insert(ReminderMessage), outbox[chunk : chunk + 5000])

    waitlist = []
    if "GP" in services:
        gp_standard = next(t for t in types["GP"] if t.code == "STD")
        for n in range(6):
            wanted = ctx.as_of + timedelta(days=1 + n % 3)
            patient_id = rng.choice(adults)
            waitlist.append(
                {"patient_id": patient_id, "service_id": services["GP"].id, "appointment_type_id": gp_standard.id,
                 "resource_id": None, "wanted_date": wanted, "status": "waiting",
                 "created_at": now - timedelta(hours=rng.randint(1, 72)), "created_by": "reception",
                 "offered_appointment_id": None}
            )  # fmt: skip
        session.execute(insert(WaitlistEntry), waitlist)

    counts = defaultdict(int)
    for row in planned:
        counts[row["status"]] += 1
    record_audit(
        session,
        SYSTEM_ACTOR,
        "seed.scheduling",
        detail=f"{len(planned)} appointments ({dict(sorted(counts.items()))}), {len(outbox)} reminders, "
        f"{len(waitlist)} waitlist entries (seed {ctx.seed})",
    )
    session.commit()
    ctx.shared["appointments"] = len(planned)


def _appointment_row(
    rng, ctx: SeedContext, service, vtype, patient_id: int, start: datetime, length: timedelta, now: datetime,
    *, no_show_risk: float, references: set[str],
) -> dict:  # fmt: skip
    """One appointment with a status that fits its time relative to ``now``."""
    end = start + length
    roll, early, wait, extra, lead = (
        rng.random(),
        rng.randint(0, 20),
        rng.randint(0, 30),
        rng.randint(-3, 8),
        rng.random(),
    )
    reference = make_reference(rng=rng)
    while reference in references:
        reference = make_reference(rng=rng)
    references.add(reference)
    created = start - timedelta(days=1 + int(lead**2 * 40), minutes=rng.randint(0, 600))
    if created > now:
        created = now - timedelta(days=int(lead * 14), minutes=rng.randint(1, 600))
    portal = service.self_bookable and rng.random() < 0.3
    row = {
        "reference": reference, "patient_id": patient_id, "service_id": service.id, "appointment_type_id": vtype.id,
        "department_id": service.department_id, "start_at": start, "end_at": end, "status": "booked",
        "booked_via": "portal" if portal else "staff", "series_id": None, "note": None, "cancel_reason": None,
        "queue_token": None, "arrived_at": None, "in_room_at": None, "completed_at": None, "cancelled_at": None,
        "offer_expires_at": None, "created_at": created, "created_by": "portal" if portal else "reception",
        "updated_at": created,
    }  # fmt: skip
    arrived = start - timedelta(minutes=early)
    in_room = (
        start + timedelta(minutes=wait // 2) if vtype.mode == "virtual" else start + timedelta(minutes=wait)
    )
    done = in_room + length + timedelta(minutes=extra)
    if roll < 0.08:  # cancelled ahead of time
        cancelled = min(now, start - timedelta(hours=rng.randint(3, 72)))
        cancelled = max(cancelled, created)
        row.update(status="cancelled", cancel_reason=rng.choice(CANCEL_REASONS), cancelled_at=cancelled,
                   updated_at=cancelled)  # fmt: skip
    elif done <= now:
        if roll < 0.08 + no_show_risk:
            row.update(status="no_show", updated_at=end + timedelta(minutes=30))
        else:
            row.update(
                status="completed", arrived_at=arrived, in_room_at=in_room, completed_at=done, updated_at=done
            )
    elif in_room <= now:
        row.update(status="in_room", arrived_at=arrived, in_room_at=in_room, updated_at=in_room)
    elif arrived <= now and start - now <= timedelta(minutes=30):
        row.update(status="arrived", arrived_at=arrived, updated_at=arrived)
    return row


def _portal_patient_visits(rng, ctx, services, types, primaries, service_rooms, busy, planned, resources_of,
                           patient_id, now, references, tz) -> None:  # fmt: skip
    if "GP" not in services:
        return
    service = services["GP"]
    vtype = next(t for t in types["GP"] if t.code == "STD")
    length = timedelta(minutes=vtype.duration_minutes)
    for offset in (-60, -21, 3):
        day = ctx.as_of + timedelta(days=offset)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        for hour, minute in ((10, 0), (10, 20), (11, 0), (14, 0), (15, 40), (16, 20)):
            start = local_moment(day, time(hour, minute), tz)
            blocks = block_starts(start, start + length)
            provider = next((p for p in primaries["GP"] if not any(b in busy[p.id] for b in blocks)), None)
            room = next((r for r in service_rooms["GP"] if not any(b in busy[r.id] for b in blocks)), None)
            if provider is None or room is None:
                continue
            if any(r["patient_id"] == patient_id and r["start_at"].date() == start.date() for r in planned):
                break
            row = _appointment_row(rng, ctx, service, vtype, patient_id, start, length, now, no_show_risk=0.0,
                                   references=references)  # fmt: skip
            if row["status"] == "cancelled":
                row.update(status="booked", cancel_reason=None, cancelled_at=None)
                if start + length <= now:
                    row.update(status="completed", arrived_at=start - timedelta(minutes=5), in_room_at=start,
                               completed_at=start + length)  # fmt: skip
            if row["status"] == "no_show":
                row.update(status="completed", arrived_at=start - timedelta(minutes=5), in_room_at=start,
                           completed_at=start + length)  # fmt: skip
            # A no-show keeps its time in the plan, so that the generated rows do not depend on the
            # hour of seeding (only their statuses do).
            if row["status"] != "cancelled":
                busy[provider.id].update(blocks)
                busy[room.id].update(blocks)
            planned.append(row)
            resources_of.append([provider.id, room.id])
            break


def _assign_queue_tokens(session, planned: list[dict], tz, as_of: date) -> None:
    """Tokens in arrival order per department and day; today's counters continue after them."""
    codes = dict(session.execute(select(Department.id, Department.code)).all())
    arrivals: dict[tuple[int, date], list[dict]] = defaultdict(list)
    for row in planned:
        if row["arrived_at"] is not None:
            arrivals[(row["department_id"], row["start_at"].astimezone(tz).date())].append(row)
    for (department_id, day), rows in arrivals.items():
        rows.sort(key=lambda r: (r["arrived_at"], r["reference"]))
        prefix = (codes.get(department_id) or "Q")[0].upper()
        for n, row in enumerate(rows, start=1):
            row["queue_token"] = f"{prefix}-{n:03d}"
        if day == as_of:
            session.add(Counter(name=f"queue:{department_id}:{day:%Y%m%d}", value=len(rows)))
    session.flush()


def _insert_appointments(session, planned: list[dict]) -> list[int]:
    """Bulk insert, then read the ids back by the unique references (RETURNING with a guaranteed
    order falls back to one row at a time on some drivers)."""
    table = Appointment.__table__
    for chunk in range(0, len(planned), 2000):
        session.execute(insert(table), planned[chunk : chunk + 2000])
    ids: dict[str, int] = {}
    references = [row["reference"] for row in planned]
    for chunk in range(0, len(references), 2000):
        ids.update(
            session.execute(
                select(Appointment.reference, Appointment.id).where(
                    Appointment.reference.in_(references[chunk : chunk + 2000])
                )
            ).all()
        )
    return [ids[reference] for reference in references]

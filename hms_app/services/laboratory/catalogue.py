"""The test catalogue: LOINC-coded tests and panels, their reference ranges and critical limits.

Reading it needs ``lab.read`` or ``lab.catalogue`` (the order dialog's search: ``lab.order``);
changing it needs ``lab.catalogue``. Every change is audited. Rules a form is checked against:

* a code is a LOINC code whose check digit is right (LOINC's check digit is the Luhn mod-10
  digit, the same as the MRN's), unique in the catalogue;
* a numeric test's unit, when it has one, is a UCUM unit (``units.is_valid_unit``); a coded test
  lists its choices ("Negative|Trace|1+"); a price code names an active service of billing's
  catalogue, so that collection can charge it;
* a test that has been ordered, or belongs to a panel, or a panel with members, cannot switch
  between test and panel;
* reference ranges of one test and sex never overlap in age (``[age_min_days, age_max_days)``);
  normal limits lie inside the critical ones (``critical_low < low <= high < critical_high``).
"""

from __future__ import annotations

import re

from sqlalchemy import delete, func, or_, select
from sqlmodel import Session

from hms_app.errors import FieldErrors, ValidationError
from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.laboratory import RESULT_TYPES, LabOrder, LabPanelMember, LabReferenceRange, LabTest
from hms_app.services import live
from hms_app.services.laboratory.common import (
    CATALOGUE,
    ORDER,
    READ,
    as_id,
    as_ids,
    audit_lab,
    clean_text,
    get_test,
    parse_decimal,
)
from hms_app.services.laboratory.rows import RangeRow, TestChoice, TestDetail, TestPage, TestRow
from hms_app.services.laboratory.units import clean_unit, is_valid_unit
from hms_app.services.patients.mrn import mrn_check_digit
from hms_app.services.permissions import Actor, authorize

SEXES = ("any", "male", "female")
MAX_AGE_DAYS = 150 * 366
MAX_MEMBERS = 40
MAX_CHOICES = 20
TRUE = ("true", "1", "yes", "on")


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _may_read(actor: Actor) -> Actor:
    if actor is not None and actor.can(CATALOGUE):
        return authorize(actor, CATALOGUE)
    return authorize(actor, READ)


def loinc_valid(code: str) -> bool:
    """``2823-3``: digits, a dash and the right check digit."""
    match = re.fullmatch(r"(\d{1,7})-(\d)", code)
    return bool(match) and mrn_check_digit(int(match.group(1))) == int(match.group(2))


def _member_counts():
    return (
        select(LabPanelMember.panel_id, func.count(LabPanelMember.id).label("members"))
        .group_by(LabPanelMember.panel_id)
        .subquery()
    )


def _choice(test: LabTest, members: int) -> TestChoice:
    return TestChoice(
        id=test.id,
        code=test.code,
        name=test.name,
        short_name=test.short_name,
        is_panel=test.is_panel,
        specimen_type=test.specimen_type,
        container=test.container,
        members=int(members or 0),
    )


def _row(test: LabTest, ranges: int) -> TestRow:
    return TestRow(
        id=test.id,
        code=test.code,
        name=test.name,
        short_name=test.short_name,
        is_panel=test.is_panel,
        result_type=test.result_type,
        unit=test.unit or "",
        specimen_type=test.specimen_type,
        container=test.container,
        price_code=test.price_code or "",
        active=test.active,
        ranges=int(ranges or 0),
    )


def orderable_tests(session: Session, *, actor: Actor, query: str = "", limit: int = 20) -> list[TestChoice]:
    """Active tests and panels whose code, name or short name matches ``query`` (``lab.order``),
    panels first, then by name; at most ``limit``."""
    authorize(actor, ORDER)
    limit = max(1, min(int(limit) if isinstance(limit, int) else 20, 100))
    text = " ".join(str(query or "").split())[:60]
    members = _member_counts()
    statement = (
        select(LabTest, func.coalesce(members.c.members, 0))
        .outerjoin(members, members.c.panel_id == LabTest.id)
        .where(LabTest.active.is_(True))
    )
    if text:
        pattern = _like(text)
        statement = statement.where(
            or_(
                func.lower(LabTest.code).like(pattern, escape="\\"),
                func.lower(LabTest.name).like(pattern, escape="\\"),
                func.lower(LabTest.short_name).like(pattern, escape="\\"),
            )
        )
    rows = session.execute(statement.order_by(LabTest.is_panel.desc(), LabTest.name).limit(limit)).all()
    return [_choice(test, count) for test, count in rows]


def list_tests(
    session: Session,
    *,
    actor: Actor,
    query: str = "",
    include_inactive: bool = False,
    page: int = 0,
    page_size: int = 50,
) -> TestPage:
    """One page of the catalogue by name (``lab.read`` or ``lab.catalogue``), with how many
    ranges each test has."""
    _may_read(actor)
    page = max(0, int(page) if isinstance(page, int) else 0)
    page_size = max(1, min(int(page_size) if isinstance(page_size, int) else 50, 200))
    conditions = []
    if not include_inactive:
        conditions.append(LabTest.active.is_(True))
    text = " ".join(str(query or "").split())[:60]
    if text:
        pattern = _like(text)
        conditions.append(
            or_(
                func.lower(LabTest.code).like(pattern, escape="\\"),
                func.lower(LabTest.name).like(pattern, escape="\\"),
                func.lower(LabTest.short_name).like(pattern, escape="\\"),
            )
        )
    total = session.execute(select(func.count(LabTest.id)).where(*conditions)).scalar_one()
    ranges = (
        select(LabReferenceRange.test_id, func.count(LabReferenceRange.id).label("ranges"))
        .group_by(LabReferenceRange.test_id)
        .subquery()
    )
    rows = session.execute(
        select(LabTest, func.coalesce(ranges.c.ranges, 0))
        .outerjoin(ranges, ranges.c.test_id == LabTest.id)
        .where(*conditions)
        .order_by(LabTest.name, LabTest.id)
        .offset(page * page_size)
        .limit(page_size)
    ).all()
    return TestPage(rows=[_row(test, count) for test, count in rows], total=int(total))


def _text(value) -> str:
    return "" if value is None else str(value)


def test_detail(session: Session, *, actor: Actor, test_id: int) -> TestDetail:
    """One test with its ranges and, for a panel, its member tests (``lab.read`` or ``lab.catalogue``)."""
    _may_read(actor)
    test = get_test(session, test_id)
    ranges = session.execute(
        select(LabReferenceRange)
        .where(LabReferenceRange.test_id == test.id)
        .order_by(LabReferenceRange.sex, LabReferenceRange.age_min_days)
    ).scalars()
    range_rows = [
        RangeRow(
            id=r.id,
            sex=r.sex,
            age_min_days=r.age_min_days,
            age_max_days=r.age_max_days,
            low=_text(r.low),
            high=_text(r.high),
            critical_low=_text(r.critical_low),
            critical_high=_text(r.critical_high),
            delta_limit=_text(r.delta_limit),
            normal_text=r.normal_text or "",
        )
        for r in ranges
    ]
    members = session.execute(
        select(LabTest)
        .join(LabPanelMember, LabPanelMember.test_id == LabTest.id)
        .where(LabPanelMember.panel_id == test.id)
        .order_by(LabPanelMember.position, LabPanelMember.id)
    ).scalars()
    return TestDetail(
        test=_row(test, len(range_rows)),
        decimals=test.decimals,
        choices=test.choices or "",
        duplicate_window_hours=test.duplicate_window_hours,
        portal_delay_hours=test.portal_delay_hours,
        ranges=range_rows,
        members=[_choice(member, 0) for member in members],
    )


test_detail.__test__ = False  # a service, not a test: pytest must not collect it where it is imported


def _whole(errors: FieldErrors, form: dict, key: str, label: str, low: int, high: int, default: int) -> int:
    raw = str(form.get(key, "") or "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"\d{1,6}", raw) or not low <= int(raw) <= high:
        errors.add(key, f"{label} must be a whole number from {low} to {high}.")
        return default
    return int(raw)


def _choices(text: str) -> list[str]:
    return [part.strip() for part in text.split("|") if part.strip()]


def save_test(session: Session, *, actor: Actor, test_id: int | None, form: dict[str, str]) -> int:
    """Create (``test_id`` None) or edit a test or panel from a form (``lab.catalogue``); returns its id.

    Form keys: code, name, short_name, is_panel ("true"/"false"), specimen_type, container,
    result_type (numeric|coded|text), unit (UCUM, numeric tests), decimals, choices (coded:
    "Negative|Positive"), price_code, duplicate_window_hours, portal_delay_hours, active.
    Every field's message is raised at once (InvalidFields)."""
    authorize(actor, CATALOGUE)
    test = get_test(session, as_id(test_id, field="test_id", label="test")) if test_id is not None else None
    form = dict(form or {})
    errors = FieldErrors()
    code = str(form.get("code", "") or "").strip()
    if not loinc_valid(code):
        errors.add("code", "Enter a LOINC code such as 2823-3 (its last digit is a check digit).")
    name = errors.check(clean_text, form.get("name"), field="name", label="Name", maximum=160, required=True)
    short_name = errors.check(
        clean_text, form.get("short_name"), field="short_name", label="Short name", maximum=30, required=True
    )
    is_panel = str(form.get("is_panel", "") or "").strip().lower() in TRUE
    specimen_type = errors.check(
        clean_text,
        form.get("specimen_type"),
        field="specimen_type",
        label="Specimen",
        maximum=40,
        required=True,
    )
    container = errors.check(
        clean_text, form.get("container"), field="container", label="Container", maximum=40, required=True
    )
    result_type = str(form.get("result_type", "") or "numeric").strip().lower()
    if result_type not in RESULT_TYPES:
        errors.add("result_type", "Choose number, coded or free text.")
    unit = clean_unit(form.get("unit"))
    if unit and (is_panel or result_type != "numeric"):
        errors.add("unit", "Only a numeric test has a unit.")
    elif unit and not is_valid_unit(unit):
        errors.add("unit", f"{unit} is not a UCUM unit (for example mmol/L, g/dL, 10*9/L, %).")
    decimals = _whole(errors, form, "decimals", "Decimals", 0, 4, 1)
    choices = _choices(str(form.get("choices", "") or ""))
    if result_type == "coded" and not is_panel:
        if not 2 <= len(choices) <= MAX_CHOICES:
            errors.add("choices", f"List 2 to {MAX_CHOICES} choices separated by |.")
        elif len({c.casefold() for c in choices}) != len(choices) or any(len(c) > 40 for c in choices):
            errors.add("choices", "Each choice must be different and at most 40 characters.")
        elif len("|".join(choices)) > 300:
            errors.add("choices", "The choices can be at most 300 characters together.")
    elif choices:
        errors.add("choices", "Only a coded test lists choices.")
    price_code = str(form.get("price_code", "") or "").strip().upper()
    if price_code:
        active = session.execute(
            select(ChargeItemDefinition.active).where(ChargeItemDefinition.code == price_code)
        ).scalar_one_or_none()
        if not active:
            errors.add("price_code", f"Billing has no active service with the code {price_code}.")
    window = _whole(errors, form, "duplicate_window_hours", "Duplicate window", 0, 8760, 24)
    delay = _whole(errors, form, "portal_delay_hours", "Portal delay", 0, 720, 0)
    active = str(form.get("active", "true") or "").strip().lower() in TRUE
    if errors.ok("code"):
        clash = session.execute(select(LabTest.id).where(LabTest.code == code)).scalar_one_or_none()
        if clash is not None and (test is None or clash != test.id):
            errors.add("code", f"{code} is already in the catalogue.")
    if test is not None and test.is_panel != is_panel:
        in_use = (
            session.execute(
                select(LabOrder.id)
                .where(or_(LabOrder.test_id == test.id, LabOrder.panel_id == test.id))
                .limit(1)
            ).first()
            or session.execute(
                select(LabPanelMember.id)
                .where(or_(LabPanelMember.panel_id == test.id, LabPanelMember.test_id == test.id))
                .limit(1)
            ).first()
        )
        if in_use:
            errors.add(
                "is_panel", "This test has orders or panel members: it cannot switch between test and panel."
            )
    errors.raise_any()
    values = {
        "code": code,
        "name": name,
        "short_name": short_name,
        "is_panel": is_panel,
        "specimen_type": specimen_type,
        "container": container,
        "result_type": "text" if is_panel else result_type,
        "unit": unit or None,
        "decimals": decimals,
        "choices": "|".join(choices) or None,
        "price_code": price_code or None,
        "duplicate_window_hours": window,
        "portal_delay_hours": delay,
        "active": active,
    }
    if test is None:
        test = LabTest(**values)
        session.add(test)
        changes = "created"
    else:
        changed = {k: v for k, v in values.items() if getattr(test, k) != v}
        for key, value in changed.items():
            setattr(test, key, value)
        changes = ", ".join(f"{k}={v}" for k, v in changed.items()) or "no change"
    session.flush()
    audit_lab(
        session,
        actor,
        "lab.catalogue.test",
        patient_id=None,
        target_type="lab_test",
        target_id=test.id,
        detail=f"{code} {name}: {changes}"[:4000],
    )
    session.commit()
    live.publish("lab", "catalogue")
    return test.id


def _limits_in_order(errors: FieldErrors, values: dict) -> None:
    low, high = values["low"], values["high"]
    critical_low, critical_high = values["critical_low"], values["critical_high"]
    if low is not None and high is not None and low > high:
        errors.add("high", "The high limit cannot be below the low limit.")
    if critical_low is not None and critical_high is not None and critical_low >= critical_high:
        errors.add("critical_high", "The critical high limit must be above the critical low limit.")
    if critical_low is not None and low is not None and critical_low >= low:
        errors.add("critical_low", "The critical low limit must be below the low limit.")
    if critical_high is not None and high is not None and critical_high <= high:
        errors.add("critical_high", "The critical high limit must be above the high limit.")
    if values["delta_limit"] is not None and values["delta_limit"] <= 0:
        errors.add("delta_limit", "A delta limit must be above 0.")


def save_range(
    session: Session, *, actor: Actor, test_id: int, range_id: int | None, form: dict[str, str]
) -> int:
    """Create or edit a reference range of a test (``lab.catalogue``); returns its id.

    Form keys: sex (any|male|female), age_min_days, age_max_days ("" for no upper bound), low,
    high, critical_low, critical_high, delta_limit, normal_text. Ranges of one test and sex may not
    overlap in age."""
    authorize(actor, CATALOGUE)
    test = get_test(session, as_id(test_id, field="test_id", label="test"))
    row = None
    if range_id is not None:
        row = session.get(LabReferenceRange, as_id(range_id, field="range_id", label="range"))
        if row is None or row.test_id != test.id:
            raise ValidationError("That reference range does not exist.", field="range_id")
    if test.is_panel:
        raise ValidationError("A panel has no reference range: give its member tests one.", field="test_id")
    form = dict(form or {})
    errors = FieldErrors()
    sex = str(form.get("sex", "") or "any").strip().lower()
    if sex not in SEXES:
        errors.add("sex", "Choose any, male or female.")
    age_min = _whole(errors, form, "age_min_days", "Age from (days)", 0, MAX_AGE_DAYS, 0)
    raw_max = str(form.get("age_max_days", "") or "").strip()
    age_max = (
        _whole(errors, form, "age_max_days", "Age up to (days)", 1, MAX_AGE_DAYS, 0) if raw_max else None
    )
    if age_max is not None and errors.ok("age_min_days", "age_max_days") and age_max <= age_min:
        errors.add("age_max_days", "The age band must end after it starts.")
    values = {
        key: errors.check(parse_decimal, form.get(key), field=key, label=label, required=False)
        for key, label in (
            ("low", "Low limit"),
            ("high", "High limit"),
            ("critical_low", "Critical low"),
            ("critical_high", "Critical high"),
            ("delta_limit", "Delta limit"),
        )
    }
    normal_text = errors.check(
        clean_text, form.get("normal_text"), field="normal_text", label="Normal result", maximum=60
    )
    if test.result_type == "numeric":
        if errors.ok("low", "high", "critical_low", "critical_high", "delta_limit"):
            if all(values[key] is None for key in ("low", "high", "critical_low", "critical_high")):
                errors.add("low", "Give at least one limit.")
            _limits_in_order(errors, values)
        if normal_text:
            errors.add("normal_text", "A numeric test is judged by its limits, not a normal result.")
    else:
        if any(value is not None for value in values.values()):
            errors.add("low", "A coded or text test has no numeric limits: give its normal result.")
        if not normal_text:
            errors.add("normal_text", "Give the normal result (for example Negative).")
        elif test.result_type == "coded" and normal_text.casefold() not in {
            c.casefold() for c in _choices(test.choices or "")
        }:
            errors.add("normal_text", "The normal result must be one of the test's choices.")
    if errors.ok("sex", "age_min_days", "age_max_days"):
        others = session.execute(
            select(LabReferenceRange.age_min_days, LabReferenceRange.age_max_days).where(
                LabReferenceRange.test_id == test.id,
                LabReferenceRange.sex == sex,
                LabReferenceRange.id != (row.id if row is not None else -1),
            )
        ).all()
        end = age_max if age_max is not None else 10**9
        for other_min, other_max in others:
            if age_min < (other_max if other_max is not None else 10**9) and other_min < end:
                errors.add("age_min_days", f"This age band overlaps another {sex} range of the test.")
                break
    errors.raise_any()
    fields = {
        "sex": sex,
        "age_min_days": age_min,
        "age_max_days": age_max,
        "normal_text": normal_text or None,
    }
    fields.update(values)
    if row is None:
        row = LabReferenceRange(test_id=test.id, **fields)
        session.add(row)
    else:
        for key, value in fields.items():
            setattr(row, key, value)
    session.flush()
    audit_lab(
        session,
        actor,
        "lab.catalogue.range",
        patient_id=None,
        target_type="lab_reference_range",
        target_id=row.id,
        detail=f"{test.code} {sex} {age_min}-{'' if age_max is None else age_max} days: "
        + ", ".join(f"{k}={v}" for k, v in fields.items() if v is not None and k not in ("sex",)),
    )
    session.commit()
    live.publish("lab", "catalogue")
    return row.id


def delete_range(session: Session, *, actor: Actor, range_id: int) -> None:
    """Remove a reference range (``lab.catalogue``); results already flagged keep their reference text."""
    authorize(actor, CATALOGUE)
    row = session.get(LabReferenceRange, as_id(range_id, field="range_id", label="range"))
    if row is None:
        raise ValidationError("That reference range does not exist.", field="range_id")
    test = get_test(session, row.test_id)
    detail = f"{test.code} {row.sex} {row.age_min_days}-{row.age_max_days or ''} days: {row.low}-{row.high}"
    session.delete(row)
    audit_lab(
        session,
        actor,
        "lab.catalogue.range_deleted",
        patient_id=None,
        target_type="lab_reference_range",
        target_id=range_id,
        detail=detail,
    )
    session.commit()
    live.publish("lab", "catalogue")


def set_panel_members(session: Session, *, actor: Actor, panel_id: int, test_ids: list[int]) -> None:
    """Replace a panel's member tests with ``test_ids`` in that order (``lab.catalogue``); members
    must be single active tests, not panels."""
    authorize(actor, CATALOGUE)
    panel = get_test(session, as_id(panel_id, field="panel_id", label="panel"))
    if not panel.is_panel:
        raise ValidationError(f"{panel.name} is a single test, not a panel.", field="panel_id")
    ids = as_ids(test_ids, field="test_ids", label="test", maximum=MAX_MEMBERS)
    tests = {t.id: t for t in session.execute(select(LabTest).where(LabTest.id.in_(ids))).scalars()}
    for test_id in ids:
        test = tests.get(test_id)
        if test is None:
            raise ValidationError("One of the chosen tests does not exist.", field="test_ids")
        if test.is_panel:
            raise ValidationError(
                f"{test.name} is a panel: a panel holds single tests only.", field="test_ids"
            )
        if not test.active:
            raise ValidationError(f"{test.name} is no longer active.", field="test_ids")
    session.execute(delete(LabPanelMember).where(LabPanelMember.panel_id == panel.id))
    session.add_all(
        [LabPanelMember(panel_id=panel.id, test_id=test_id, position=n) for n, test_id in enumerate(ids)]
    )
    session.flush()
    audit_lab(
        session,
        actor,
        "lab.catalogue.panel",
        patient_id=None,
        target_type="lab_test",
        target_id=panel.id,
        detail=f"{panel.code} {panel.name}: " + ", ".join(tests[i].code for i in ids),
    )
    session.commit()
    live.publish("lab", "catalogue")

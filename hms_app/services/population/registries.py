"""Registries: a named ICD-10-CM code set whose members are the active patients with an active
problem under one of its codes. Editing a registry's code set recomputes its members at once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import (
    and_,
    delete,
    func,
    insert,
    select,
)
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.emr import Condition
from hms_app.models.population import (
    PopulationSummary,
    Registry,
    RegistryAgeCount,
    RegistryCode,
    RegistryMember,
)
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row

PREFIX_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{0,4})?$")
REGISTRY_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,19}$")

S = PopulationSummary


def _member_rows(registry_ids=None):
    """SELECT of (registry, patient, sex, birth date, onset) for active problems in a code set."""
    c, rc = Condition, RegistryCode
    onset = func.min(func.coalesce(c.onset_date, func.date(c.recorded_at)))
    query = (
        select(rc.registry_id, c.patient_id, S.sex, S.birth_date, onset)
        .select_from(c)
        .join(rc, c.code.like(rc.code_prefix + "%"))
        .join(Registry, and_(Registry.id == rc.registry_id, Registry.active.is_(True)))
        .join(S, S.patient_id == c.patient_id)
        .where(c.clinical_status == "active")
        .group_by(rc.registry_id, c.patient_id, S.sex, S.birth_date)
    )
    if registry_ids is not None:
        query = query.where(rc.registry_id.in_(registry_ids))
    return query


def rebuild_members(session: Session, registry_ids: list[int]) -> None:
    """Recompute the members of these registries (and their counts per birth date) from the active problems."""
    session.execute(delete(RegistryMember).where(RegistryMember.registry_id.in_(registry_ids)))
    session.execute(
        insert(RegistryMember).from_select(
            ["registry_id", "patient_id", "sex", "birth_date", "onset_date"], _member_rows(registry_ids)
        )
    )
    session.execute(delete(RegistryAgeCount).where(RegistryAgeCount.registry_id.in_(registry_ids)))
    m = RegistryMember
    session.execute(
        insert(RegistryAgeCount).from_select(
            ["registry_id", "sex", "birth_date", "members"],
            select(m.registry_id, m.sex, m.birth_date, func.count())
            .where(m.registry_id.in_(registry_ids))
            .group_by(m.registry_id, m.sex, m.birth_date),
        )
    )


@dataclass(frozen=True)
class RegistryRow:
    id: int
    code: str
    name: str
    active: bool
    prefixes: list[str]
    members: int


def registry_ids_by_code(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Registry.code, Registry.id)).all())


def list_registries(session: Session, *, actor: Actor) -> list[RegistryRow]:
    """Every registry with its code set and member count."""
    authorize(actor, "population.read")
    registries = session.execute(select(Registry).order_by(Registry.name)).scalars().all()
    prefixes: dict[int, list[str]] = {}
    for registry_id, prefix in session.execute(
        select(RegistryCode.registry_id, RegistryCode.code_prefix).order_by(RegistryCode.code_prefix)
    ):
        prefixes.setdefault(registry_id, []).append(prefix)
    counts = dict(
        session.execute(
            select(RegistryMember.registry_id, func.count()).group_by(RegistryMember.registry_id)
        ).all()
    )
    return [
        RegistryRow(r.id, r.code, r.name, r.active, prefixes.get(r.id, []), int(counts.get(r.id, 0)))
        for r in registries
    ]


def parse_prefixes(text: str) -> list[str]:
    """ICD-10-CM prefixes from text separated by commas, spaces or new lines ("E11, E13")."""
    items = [item.strip().upper() for item in re.split(r"[,\s;]+", text or "") if item.strip()]
    if not items:
        raise ValidationError("Enter at least one ICD-10-CM code or prefix, such as E11.", field="prefixes")
    if len(items) > 60:
        raise ValidationError("A registry has at most 60 codes.", field="prefixes")
    for item in items:
        if not PREFIX_RE.fullmatch(item):
            raise ValidationError(
                f"{item[:12]!r} is not an ICD-10-CM code or prefix (a letter, two characters, "
                "optionally a dot and up to four more, e.g. E11 or I11.0).",
                field="prefixes",
            )
    return sorted(set(items))


def save_registry(
    session: Session,
    *,
    actor: Actor,
    registry_id: int | None,
    name: str,
    prefixes: str,
    code: str = "",
    active: bool = True,
) -> RegistryRow:
    """Create a registry or change its name, code set or status; its members are recomputed."""
    authorize(actor, "population.manage")
    name = (name or "").strip()
    if not 3 <= len(name) <= 120:
        raise ValidationError("Name the registry (3 to 120 characters).", field="name")
    codes = parse_prefixes(prefixes)
    if registry_id is None:
        code = (code or "").strip().lower()
        if not REGISTRY_CODE_RE.fullmatch(code):
            raise ValidationError(
                "The short code has 2 to 20 lowercase letters, digits or underscores.", field="code"
            )
        if session.execute(select(Registry.id).where(Registry.code == code)).first():
            raise Conflict("A registry with this short code exists already.", field="code")
        registry = Registry(code=code, name=name, active=active, updated_by=actor.username)
        session.add(registry)
        session.flush()
        before: list[str] = []
    else:
        registry = get_row(session, Registry, registry_id, "That registry does not exist.")
        before = list(
            session.execute(
                select(RegistryCode.code_prefix).where(RegistryCode.registry_id == registry.id)
            ).scalars()
        )
        registry.name, registry.active = name, bool(active)
        registry.updated_at, registry.updated_by = utcnow(), actor.username
        session.add(registry)
        session.execute(delete(RegistryCode).where(RegistryCode.registry_id == registry.id))
    session.execute(
        insert(RegistryCode), [{"registry_id": registry.id, "code_prefix": prefix} for prefix in codes]
    )
    rebuild_members(session, [registry.id])
    added, removed = sorted(set(codes) - set(before)), sorted(set(before) - set(codes))
    record_audit(
        session,
        actor,
        "registry.create" if registry_id is None else "registry.update",
        target_type="registry",
        target_id=registry.id,
        detail=f"{registry.code}: {', '.join(codes)}"
        + (f" (added {', '.join(added)})" if added and before else "")
        + (f" (removed {', '.join(removed)})" if removed else "")
        + ("" if registry.active else " inactive"),
    )
    session.commit()
    members = session.execute(
        select(func.count()).select_from(RegistryMember).where(RegistryMember.registry_id == registry.id)
    ).scalar_one()
    return RegistryRow(registry.id, registry.code, registry.name, registry.active, codes, int(members))


DEFAULT_REGISTRIES = (
    ("diabetes", "Diabetes mellitus", "E10 E11 E13"),
    ("hypertension", "Hypertension", "I10 I11 I12 I13 I15 I16"),
    ("ckd", "Chronic kidney disease", "N18"),
    ("asthma_copd", "Asthma and COPD", "J44 J45"),
    ("heart_failure", "Heart failure", "I50"),
)


def ensure_default_registries(session: Session, *, actor: Actor) -> int:
    """Create the five default registries that are missing (the migration made them once)."""
    authorize(actor, "population.manage")
    existing = registry_ids_by_code(session)
    created = 0
    for code, name, prefixes in DEFAULT_REGISTRIES:
        if code not in existing:
            save_registry(session, actor=actor, registry_id=None, code=code, name=name, prefixes=prefixes)
            created += 1
    return created

"""The module registry: every domain of HMS declares itself here, once.

A module names what it brings: its tables, pages and navigation entries (with the permission
that shows them), its permissions and which roles get them by default, the live topics its
boards follow, its demo-data seeders, its periodic jobs, its benchmarks and its ``hms`` commands. Everything that
used to keep a list of its own reads this one instead: the models package (and so Alembic),
the page registration, the sidebar, the permission catalogue and the role matrix's defaults,
the live notices, ``hms seed``, the periodic jobs and ``hms bench``.

The registry imports nothing of the app: what it names are dotted import paths, loaded by
whoever needs them (``load(kind)``), so any layer may read it without an import circle.
``docs/adding-a-module.md`` walks through adding a module.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class NavEntry:
    """A sidebar link. ``order`` places it among every module's links (gaps of 10 leave room)."""

    label: str
    route: str
    icon: str  # a Lucide icon name
    permission: str | None  # None: every signed-in staff user
    order: int


@dataclass(frozen=True)
class Job:
    """Periodic work: ``target(session, actor=SYSTEM_ACTOR)`` returns counts by name."""

    name: str
    target: str  # "package.module:function"


@dataclass(frozen=True)
class Module:
    name: str
    title: str
    models: tuple[str, ...] = ()  # modules defining its tables
    pages: tuple[str, ...] = ()  # modules whose import registers its routes
    nav: tuple[NavEntry, ...] = ()
    roles: Mapping[str, str] = field(default_factory=dict)  # roles it introduces: id -> label
    permissions: Mapping[str, str] = field(default_factory=dict)  # name -> what it allows
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)  # role -> default permissions
    live_topics: tuple[str, ...] = ()
    seeders: tuple[str, ...] = ()  # modules registering ``@seeder`` functions
    jobs: tuple[Job, ...] = ()
    benchmarks: tuple[str, ...] = ()  # ``bench.<name>`` modules with BENCHMARKS and GROUPS
    commands: tuple[str, ...] = ()  # modules with ``register(subparsers)`` adding ``hms`` commands


def _grants(**by_role: set[str]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({role: frozenset(names) for role, names in by_role.items()})


MODULES: tuple[Module, ...] = (
    Module(
        name="core",
        title="Sign-in, accounts, roles and the audit trail",
        models=("hms_app.models.security", "hms_app.models.organization"),
        pages=(
            "hms_app.pages.auth",
            "hms_app.pages.home",
            "hms_app.pages.account",
            "hms_app.pages.admin",
            "hms_app.pages.audit",
            "hms_app.pages.errors",
        ),
        nav=(
            NavEntry("Home", "/", "house", None, 0),
            NavEntry("Users", "/admin/users", "users", "user.manage", 110),
            NavEntry("Roles & access", "/admin/roles", "shield-check", "role.manage", 120),
            NavEntry("Audit trail", "/admin/audit", "scroll-text", "audit.read", 130),
            NavEntry("My account", "/account", "user-cog", None, 140),
        ),
        roles={
            "admin": "Administrator",
            "physician": "Physician",
            "nurse": "Nurse",
            "receptionist": "Receptionist",
            "lab_technician": "Lab technician",
            "radiologist": "Radiologist",
            "pharmacist": "Pharmacist",
            "billing_clerk": "Billing clerk",
            "manager": "Manager",
            "patient": "Patient",
        },
        permissions={
            "audit.read": "Read the audit trail",
            "user.manage": "Create, disable and reset user accounts and grant roles",
            "role.manage": "Edit the role-permission matrix and the MFA policy",
            "analytics.read": "Open the management dashboards",
            # The work areas of the laboratory, radiology and pharmacy roles, granted ahead of
            # their modules so that those roles exist with their permission from the start.
            "lab.work": "Work the laboratory worklist and enter results",
            "radiology.work": "Work imaging orders and write reports",
            "pharmacy.dispense": "Dispense medication",
        },
        grants=_grants(
            admin={"user.manage", "role.manage", "audit.read", "analytics.read"},
            lab_technician={"lab.work"},
            radiologist={"radiology.work"},
            pharmacist={"pharmacy.dispense"},
            manager={"analytics.read"},
        ),
        seeders=("hms_app.seed.demo",),
        benchmarks=("bench.audit",),
    ),
    Module(
        name="patients",
        title="Patient registration, search, duplicates and merges",
        models=("hms_app.models.patients",),
        pages=("hms_app.pages.patients",),
        nav=(NavEntry("Patients", "/patients", "contact", "patient.read", 10),),
        permissions={
            "patient.read": "Look up patients and read their records",
            "patient.write": "Register patients and edit demographics",
            "patient.merge": "Merge duplicate patient records and undo merges",
        },
        grants=_grants(
            physician={"patient.read", "patient.write"},
            nurse={"patient.read"},
            receptionist={"patient.read", "patient.write", "patient.merge"},
            lab_technician={"patient.read"},
            radiologist={"patient.read"},
            pharmacist={"patient.read"},
            billing_clerk={"patient.read"},
        ),
        benchmarks=("bench.patients", "bench.load"),
    ),
    Module(
        name="emr",
        title="The chart: encounters, notes, vitals, problems, allergies, medications, documents",
        models=("hms_app.models.emr",),
        pages=("hms_app.pages.chart",),
        permissions={"emr.write": "Record encounters, notes, vitals, problems and allergies"},
        grants=_grants(physician={"emr.write"}, nurse={"emr.write"}),
        seeders=("hms_app.seed.clinical",),
    ),
    Module(
        name="scheduling",
        title="Scheduling, the patient portal's booking, clinic boards and reminders",
        models=("hms_app.models.scheduling",),
        pages=("hms_app.pages.scheduling", "hms_app.pages.boards"),
        nav=(
            NavEntry("Schedule", "/schedule", "calendar-days", "appointment.read", 20),
            NavEntry("Clinic flow", "/boards/flow", "kanban", "appointment.read", 30),
            NavEntry("Waiting room", "/boards/waiting", "monitor", "appointment.read", 40),
            NavEntry("Schedule setup", "/schedule/setup", "calendar-cog", "schedule.manage", 100),
        ),
        permissions={
            "appointment.read": "See schedules and appointments",
            "appointment.book": "Book, move and cancel appointments",
            "appointment.flow": "Check patients in, call them and move them through the visit",
            "schedule.manage": "Set up bookable resources, services, availability and closures",
        },
        grants=_grants(
            admin={"schedule.manage", "appointment.read"},
            physician={"appointment.read", "appointment.flow"},
            nurse={"appointment.read", "appointment.flow"},
            receptionist={"appointment.read", "appointment.book", "appointment.flow", "schedule.manage"},
            manager={"appointment.read"},
        ),
        live_topics=("appointments", "queue"),
        seeders=("hms_app.seed.scheduling",),
        jobs=(
            Job("offers_expired", "hms_app.services.scheduling:expire_offers"),
            Job("reminders", "hms_app.services.reminders:run_reminder_round"),
        ),
        benchmarks=("bench.scheduling", "bench.boards"),
    ),
    Module(
        name="wards",
        title="Wards and beds: admissions, transfers, discharges",
        models=("hms_app.models.wards",),
        nav=(NavEntry("Bed board", "/wards", "bed-double", "patient.read", 50),),
        permissions={"ward.manage": "Admit, transfer and discharge inpatients and manage beds"},
        grants=_grants(nurse={"ward.manage"}),
        live_topics=("beds",),
        seeders=("hms_app.seed.wards",),
    ),
    Module(
        name="billing",
        title="Charges, invoices, payments, insurance claims, expenses and the finance dashboard",
        models=("hms_app.models.billing",),
        pages=("hms_app.pages.billing", "hms_app.pages.finance"),
        nav=(
            NavEntry("Billing", "/billing", "receipt", "billing.read", 60),
            NavEntry("Finance", "/finance", "chart-column", "analytics.read", 70),
        ),
        permissions={
            "billing.read": "See charges, invoices and payments",
            "billing.post": "Post charges, payments, expenses and claims; issue invoices",
            "billing.void": "Void invoices and refund payments",
        },
        grants=_grants(
            billing_clerk={"billing.read", "billing.post"}, manager={"billing.read", "billing.void"}
        ),
        live_topics=("billing",),
        seeders=("hms_app.seed.billing",),
        benchmarks=("bench.billing",),
    ),
    Module(
        name="inventory",
        title="Inventory: stock, stores, suppliers, purchase orders, counts and the equipment register",
        models=("hms_app.models.inventory",),
        pages=("hms_app.pages.inventory", "hms_app.pages.equipment"),
        nav=(
            NavEntry("Stock", "/inventory", "package", "inventory.read", 52),
            NavEntry("Low stock", "/inventory/board", "package-x", "inventory.read", 53),
            NavEntry("Purchasing", "/inventory/orders", "shopping-cart", "inventory.read", 54),
            NavEntry("Stock counts", "/inventory/counts", "clipboard-check", "inventory.read", 55),
            NavEntry("Equipment", "/equipment", "wrench", "equipment.read", 56),
            NavEntry("Maintenance board", "/equipment/board", "calendar-clock", "equipment.read", 57),
            NavEntry("Stock catalogue", "/inventory/items", "boxes", "inventory.manage", 105),
            NavEntry("Suppliers", "/inventory/suppliers", "truck", "inventory.manage", 106),
            NavEntry("Inventory analytics", "/analytics/inventory", "chart-pie", "analytics.read", 92),
        ),
        roles={"storekeeper": "Storekeeper", "biomed": "Biomedical engineer"},
        permissions={
            "inventory.read": "See stock, stores, items, suppliers and purchase orders",
            "inventory.issue": "Issue stock to patients and departments from one's own department's stores",
            "inventory.keep": "Receive, transfer, adjust and count stock at one's own department's stores",
            "inventory.manage": "Run every store: items, stores, suppliers, purchase orders, receipts and counts",
            "inventory.approve": "Approve purchase orders and stock-count variances entered by someone else",
            "equipment.read": "See the equipment register and its maintenance",
            "equipment.maintain": "Register equipment, plan its maintenance and work its work orders",
        },
        grants=_grants(
            storekeeper={
                "inventory.read",
                "inventory.issue",
                "inventory.keep",
                "inventory.manage",
                "inventory.approve",
            },
            nurse={"inventory.read", "inventory.issue"},
            pharmacist={"inventory.read", "inventory.issue", "inventory.keep"},
            lab_technician={"inventory.read", "inventory.issue"},
            radiologist={"inventory.read", "inventory.issue"},
            biomed={"inventory.read", "inventory.issue", "equipment.read", "equipment.maintain"},
            manager={"inventory.read", "inventory.approve", "equipment.read"},
            admin={"equipment.read"},
        ),
        live_topics=("stock", "equipment"),
        seeders=("hms_app.seed.inventory", "hms_app.seed.equipment"),
        benchmarks=("bench.inventory",),
        jobs=(Job("maintenance_due", "hms_app.services.inventory.maintenance:open_due_work_orders"),),
    ),
    Module(
        name="laboratory",
        title="Laboratory: test catalogue, orders, specimens, results, critical results, analysers",
        models=("hms_app.models.laboratory",),
        pages=("hms_app.pages.laboratory", "hms_app.pages.lab_label"),
        nav=(
            NavEntry("Laboratory", "/lab", "flask-conical", "lab.work", 45),
            NavEntry("Specimen reception", "/lab/reception", "scan-barcode", "lab.work", 46),
            NavEntry("Critical results", "/lab/critical", "siren", "lab.work", 47),
            NavEntry("Lab catalogue", "/lab/catalogue", "test-tubes", "lab.catalogue", 107),
        ),
        roles={"charge_nurse": "Charge nurse", "department_lead": "Department lead"},
        permissions={
            "lab.order": "Order laboratory tests for patients",
            "lab.read": "See laboratory orders and released results",
            "lab.collect": "Collect specimens and print their labels",
            "lab.verify": "Verify results entered by someone else and release them",
            "lab.catalogue": "Add and edit laboratory tests, panels and reference ranges",
            "lab.acknowledge": "Acknowledge critical results (with read-back)",
        },
        grants=_grants(
            physician={"lab.order", "lab.read", "lab.collect", "lab.acknowledge"},
            nurse={"lab.read", "lab.collect"},
            lab_technician={"lab.read", "lab.collect", "lab.verify"},
            charge_nurse={"lab.read", "lab.acknowledge"},
            department_lead={"lab.read", "lab.acknowledge"},
            admin={"lab.catalogue"},
            manager={"lab.read"},
        ),
        live_topics=("lab", "critical"),
        seeders=("hms_app.seed.laboratory",),
        jobs=(Job("critical_escalated", "hms_app.services.laboratory.critical:escalate_due_alerts"),),
        benchmarks=("bench.laboratory", "bench.laboratory_hl7"),
    ),
    Module(
        name="pharmacy",
        title="Pharmacy: formulary, structured prescribing, order checks and overrides, verification, dispensing",
        models=("hms_app.models.pharmacy",),
        pages=("hms_app.pages.dispensary", "hms_app.pages.prescription", "hms_app.pages.mar"),
        nav=(
            NavEntry("Pharmacy", "/pharmacy", "pill", "pharmacy.verify", 58),
            NavEntry("Controlled drugs", "/pharmacy/controlled", "shield-check", "pharmacy.dispense", 59),
            NavEntry(
                "Order-check overrides", "/pharmacy/overrides", "shield-alert", "pharmacy.formulary", 108
            ),
        ),
        # pharmacy.dispense is declared by core (the pharmacist role's work area from the start).
        permissions={
            "medication.read": "See medication orders and search the formulary",
            "medication.order": "Prescribe, stop, change and renew medication orders",
            "medication.administer": "Record medication administration",
            "pharmacy.verify": "Verify medication orders and review their overrides",
            "pharmacy.formulary": "Edit the formulary and read the order-check override report",
        },
        grants=_grants(
            physician={"medication.read", "medication.order"},
            nurse={"medication.read", "medication.administer"},
            pharmacist={"medication.read", "pharmacy.verify", "pharmacy.formulary"},
            admin={"pharmacy.formulary"},
        ),
        live_topics=("pharmacy", "mar"),
        seeders=("hms_app.seed.pharmacy", "hms_app.seed.pharmacy_ward"),
        jobs=(Job("orders_completed", "hms_app.services.pharmacy.lifecycle:complete_ended_orders"),),
        benchmarks=("bench.medications",),
    ),
    Module(
        name="radiology",
        title="Radiology: imaging catalogue and orders, modality work list, DICOM images, viewer, reports",
        models=("hms_app.models.radiology",),
        pages=("hms_app.pages.radiology_report", "hms_app.pages.radiology_viewer", "hms_app.pages.radiology"),
        nav=(
            NavEntry("Radiology", "/radiology", "scan", "radiology.work", 48),
            NavEntry("Unmatched images", "/radiology/unmatched", "images", "imaging.catalogue", 49),
        ),
        roles={"radiographer": "Radiographer"},
        permissions={
            "imaging.order": "Order imaging examinations for patients",
            "imaging.read": "See imaging orders, images and reports",
            "imaging.report": "Write and sign imaging reports",
            "imaging.catalogue": "Edit the imaging catalogue and file unmatched images",
        },
        grants=_grants(
            physician={"imaging.order", "imaging.read"},
            nurse={"imaging.read"},
            radiologist={"imaging.read", "imaging.report", "imaging.catalogue"},
            radiographer={"patient.read", "radiology.work", "imaging.read"},
            manager={"imaging.read"},
            admin={"imaging.catalogue"},
        ),
        live_topics=("imaging",),
        benchmarks=("bench.radiology_dicom", "bench.radiology_viewer", "bench.radiology_worklist"),
        seeders=("hms_app.seed.radiology",),
    ),
    Module(
        name="population",
        title="Population health: registries, quality measures, care gaps, cohorts",
        models=("hms_app.models.population",),
        pages=("hms_app.pages.population",),
        nav=(NavEntry("Population health", "/population", "heart-pulse", "population.read", 80),),
        permissions={
            "population.read": "See registries, quality measures, care gaps and cohorts of patients",
            "population.manage": "Edit registry code sets, save cohorts and send outreach",
        },
        grants=_grants(physician={"population.read"}, manager={"population.read", "population.manage"}),
        seeders=("hms_app.seed.population",),
        benchmarks=("bench.population",),
    ),
    Module(
        name="operations",
        title="Operations analytics",
        pages=("hms_app.pages.operations",),
        nav=(NavEntry("Operations", "/analytics/operations", "activity", "analytics.read", 90),),
    ),
    Module(
        name="portal",
        title="The patient portal: sign-up, one's own record, booking, appointments and bills",
        pages=("hms_app.pages.portal",),
        permissions={"portal.self": "Use the patient portal for one's own record"},
        grants=_grants(patient={"portal.self"}),
    ),
    Module(
        name="telehealth",
        title="Telemedicine: video visits, secure messaging, home measurements",
        models=("hms_app.models.video_visits", "hms_app.models.messaging", "hms_app.models.home_readings"),
        pages=(
            "hms_app.pages.video_visit",
            "hms_app.pages.messaging",
            "hms_app.pages.home_readings",
            "hms_app.pages.portal.video",
            "hms_app.pages.portal.messages",
            "hms_app.pages.portal.readings",
        ),
        nav=(
            NavEntry("Messages", "/messages", "messages-square", "message.staff", 25),
            NavEntry("Home readings", "/home-readings", "house-plus", "reading.review", 26),
        ),
        permissions={
            "telehealth.conduct": "Hold video visits with the patients booked with oneself",
            "message.staff": "Read, answer and assign patients' secure messages",
            "reading.review": "See patients' home measurements, set their alert limits and clear alerts",
        },
        grants=_grants(
            physician={"telehealth.conduct", "message.staff", "reading.review"},
            nurse={"telehealth.conduct", "message.staff", "reading.review"},
            receptionist={"message.staff"},
        ),
        live_topics=("video", "messages", "readings"),
        seeders=("hms_app.seed.messaging", "hms_app.seed.home_readings", "hms_app.seed.video_visits"),
        jobs=(Job("video_signals_purged", "hms_app.services.video_visits:purge_signals"),),
    ),
    Module(
        name="interop",
        title="Interoperability: the FHIR R4 API, system clients and their tokens, Synthea import, bulk export",
        models=(
            "hms_app.models.fhir",
            "hms_app.models.imports",
            "hms_app.models.fhir_access",
            "hms_app.models.fhir_export",
        ),
        pages=("hms_app.pages.fhir_clients",),
        nav=(NavEntry("FHIR clients", "/admin/fhir-clients", "plug", "fhir.client.manage", 125),),
        # The role a registered FHIR client's own account holds unless chosen otherwise: reads only.
        roles={"integration": "System integration (FHIR clients)"},
        permissions={
            "fhir.client.manage": "Register FHIR client applications, their keys and scopes, and revoke their tokens",
            "data.import": "Import outside data (Synthea) into the hospital's records",
        },
        grants=_grants(
            admin={"fhir.client.manage", "data.import"},
            integration={"patient.read", "appointment.read", "lab.read", "medication.read", "imaging.read"},
        ),
        jobs=(Job("fhir_tokens_purged", "hms_app.services.fhir_clients:purge_expired"),),
        benchmarks=("bench.synthea", "bench.fhir"),
        commands=("hms_app.commands.imports", "hms_app.commands.fhir"),
    ),
)


def collect(attribute: str) -> tuple[Any, ...]:
    """Every module's entries of ``attribute`` (a tuple field), in registry order."""
    return tuple(entry for module in MODULES for entry in getattr(module, attribute))


def merged(attribute: str) -> dict[str, Any]:
    """Every module's mapping ``attribute`` as one dict; a name declared twice is an error."""
    result: dict[str, Any] = {}
    for module in MODULES:
        for name, value in getattr(module, attribute).items():
            if name in result:
                raise ValueError(f"{attribute} {name!r} is declared twice (again by {module.name})")
            result[name] = value
    return result


def default_grants() -> dict[str, frozenset[str]]:
    """Each role's default permissions: the union of what every module grants it."""
    grants: dict[str, set[str]] = {}
    for module in MODULES:
        for role, names in module.grants.items():
            grants.setdefault(role, set()).update(names)
    return {role: frozenset(names) for role, names in grants.items()}


def nav_entries() -> tuple[NavEntry, ...]:
    return tuple(sorted(collect("nav"), key=lambda entry: entry.order))


def load(attribute: str) -> list[Any]:
    """Import every module named by ``attribute`` (models, pages, seeders, benchmarks)."""
    return [importlib.import_module(path) for path in collect(attribute)]


def resolve(target: str) -> Any:
    """The object a ``package.module:name`` path names."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)

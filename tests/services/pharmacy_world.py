"""A small hospital for the pharmacy tests: the seeded formulary, the staff of every role that
touches medication orders (two physicians, so that one cannot sign the other's draft), patients,
and a stand-in for the medication knowledge's engine.

The stand-in replaces ``hms_app.cds.medications`` (being written apart, see MEDS_API.md) in the
test only, with the contract's names: it knows a few ingredients, fires an interrupting
warfarin + NSAID interaction, an interrupting penicillin allergy, and a non-interrupting "allergies
not assessed", and keeps every PatientContext it was given so that tests can see what the chart
told it."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

import hms_app.cds
from hms_app.seed.pharmacy import load_formulary
from tests.services.lab_world import _patient, role_actor, years_ago

NSAIDS = {"ibuprofen", "naproxen", "aspirin"}
PENICILLINS = {"amoxicillin", "flucloxacillin", "piperacillin"}
WARFARIN_NSAID = "ddi:test:warfarin+nsaid"
PENICILLIN_ALLERGY = "allergy:test:penicillin"
NOT_ASSESSED = "allergy:test:not-assessed"


@dataclass(frozen=True)
class DrugUse:
    ingredient: str
    dose: Decimal | None = None
    dose_unit: str | None = None
    doses_per_day: Decimal | None = None
    route: str | None = None


@dataclass(frozen=True)
class PatientContext:
    age_years: Decimal | None = None
    weight_kg: Decimal | None = None
    sex: str = "unknown"
    egfr: Decimal | None = None
    pregnant: bool | None = None
    lactating: bool | None = None
    allergy_status: str = "not_assessed"
    allergies: tuple[str, ...] = ()
    current: tuple[DrugUse, ...] = ()


@dataclass(frozen=True)
class Alert:
    kind: str
    drugs: tuple[str, ...]
    severity: str
    interrupt: bool
    message: str
    action: str
    rule: str


@dataclass(frozen=True)
class Ingredient:
    name: str


@dataclass
class StandIn:
    contexts: list = field(default_factory=list)
    known: frozenset = frozenset(
        {
            "warfarin",
            "ibuprofen",
            "naproxen",
            "aspirin",
            "amoxicillin",
            "acetaminophen",
            "amlodipine",
            "metformin",
        }
    )

    def check_order(self, new: DrugUse, patient: PatientContext) -> list[Alert]:
        self.contexts.append((new, patient))
        alerts = []
        current = {use.ingredient for use in patient.current}
        pair = {new.ingredient} | current
        if (
            "warfarin" in pair
            and (NSAIDS & pair)
            and (new.ingredient == "warfarin" or new.ingredient in NSAIDS)
        ):
            alerts.append(
                Alert(
                    "interaction",
                    ("warfarin", "nsaid"),
                    "major",
                    True,
                    "Warfarin with an NSAID: bleeding.",
                    "Avoid; if needed, monitor INR.",
                    WARFARIN_NSAID,
                )  # fmt: skip
            )
        if new.ingredient in PENICILLINS and any(a.lower() == "penicillin" for a in patient.allergies):
            alerts.append(
                Alert(
                    "allergy",
                    (new.ingredient,),
                    "contraindicated",
                    True,
                    "Penicillin allergy recorded.",
                    "Choose another class.",
                    PENICILLIN_ALLERGY,
                )  # fmt: skip
            )
        if patient.allergy_status == "not_assessed":
            alerts.append(
                Alert(
                    "allergy_not_assessed",
                    (),
                    "info",
                    False,
                    "Allergies have not been assessed.",
                    "Ask and record the allergies.",
                    NOT_ASSESSED,
                )  # fmt: skip
            )
        return alerts

    def knowledge(self):
        known = self.known

        class Knowledge:
            version = "test"
            source = "stand-in"

            def ingredient(self, name):
                return Ingredient(name.lower()) if name and name.lower() in known else None

        return Knowledge()


@pytest.fixture
def engine(monkeypatch) -> StandIn:
    stand_in = StandIn()
    module = types.ModuleType("hms_app.cds.medications")
    module.DrugUse, module.PatientContext, module.Alert = DrugUse, PatientContext, Alert
    module.check_order, module.knowledge = stand_in.check_order, stand_in.knowledge
    monkeypatch.setitem(sys.modules, "hms_app.cds.medications", module)
    monkeypatch.setattr(hms_app.cds, "medications", module, raising=False)
    return stand_in


@dataclass(frozen=True)
class RxWorld:
    products: dict[str, int]  # formulary code -> id
    man: int  # 60, on nothing yet
    woman: int  # 35
    physician: object
    other_physician: object
    nurse: object
    pharmacist: object
    receptionist: object

    def product(self, code: str) -> int:
        return self.products[code]


def build_rx_world(session) -> RxWorld:
    from hms_app.models.organization import Department

    gen = Department(code="GEN", name="General Medicine")
    pharmacy = Department(code="PHARM", name="Pharmacy", kind="support")
    session.add_all([gen, pharmacy])
    session.flush()
    world = RxWorld(
        products=load_formulary(session),
        man=_patient(session, "Walter", "Warfarin", "male", years_ago(60)),
        woman=_patient(session, "Penny", "Cillin", "female", years_ago(35)),
        physician=role_actor(session, "dr.rx", "physician", gen.id),
        other_physician=role_actor(session, "dr.other", "physician", gen.id),
        nurse=role_actor(session, "nurse.rx", "nurse", gen.id),
        pharmacist=role_actor(session, "pharm.rx", "pharmacist", pharmacy.id),
        receptionist=role_actor(session, "desk.rx", "receptionist", gen.id),
    )
    session.commit()
    return world

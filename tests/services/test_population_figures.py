"""Every population figure, recomputed from the raw clinical rows with pandas, matches exactly.

The population is random but seeded: ages 3-95, problems from every registry and exclusion,
resolved problems, results at the same moment (ties), results outside the period, patients
without results, visits with and without a practitioner, deceased, inactive and merged records.
The recomputation reads patient, condition, observation, encounter and registry_code with
pandas and applies the written definitions itself; it never reads the summary tables.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from hms_app.analytics import population as charts
from hms_app.analytics.population import BMI_CATEGORIES, EGFR_STAGES
from hms_app.cds import scores
from hms_app.clock import local_today, to_local, utcnow
from hms_app.models.emr import Condition, Encounter, MedicationStatement, Observation
from hms_app.models.patients import Patient
from hms_app.models.population import PopulationRefresh
from hms_app.models.security import AppUser
from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor
from hms_app.services.population.cohorts import count_cohort, list_cohort
from hms_app.services.population.dashboard import (
    age_band_frame,
    bmi_frame,
    egfr_frame,
    measure_frame,
    prevalence_frame,
    trend_frame,
)
from hms_app.services.population.refresh import (
    BMI,
    CREATININE,
    DIASTOLIC,
    HBA1C,
    SYSTOLIC,
    refresh_population,
)
from hms_app.services.population.registries import ensure_default_registries, list_registries

READER = Actor(
    user_id=0, username="phil", roles=frozenset({"physician"}), permissions=DEFAULT_GRANTS["physician"]
)
CODES = ["E11.9", "E10.9", "E13.8", "I10", "I12.0", "N18.30", "N18.6", "J45.909", "J44.9", "I50.9", "Z51.5"]
CODES += ["Z33.1", "O09.90", "E78.5", "F32.A"]
AGE_BANDS = [("0-17", 0, 17), ("18-39", 18, 39), ("40-64", 40, 64), ("65-74", 65, 74), ("75+", 75, 200)]


def _build(session, seed: int = 11, patients: int = 160) -> None:
    rng = random.Random(seed)
    now = utcnow()
    today = local_today()
    ensure_default_registries(session, actor=SYSTEM_ACTOR)
    providers = []
    for name in ("dr.a", "dr.b", "dr.c"):
        user = AppUser(username=name, display_name=f"Dr {name[-1].upper()}", password_hash="x")
        session.add(user)
        session.flush()
        providers.append(user.id)
    ids = []
    for n in range(patients):
        birth = today - timedelta(days=rng.randint(3 * 365, 95 * 365))
        status = {}
        roll = rng.random()
        if roll < 0.04:
            status = {"active": False, "deceased_at": now - timedelta(days=5)}
        elif roll < 0.07:
            status = {"active": False}
        p = Patient(
            mrn=f"F{n:05d}",
            given_name=f"P{n}",
            family_name="Fig",
            sex=rng.choice(["female", "female", "male", "male", "other"]),
            birth_date=birth,
            **status,
        )
        session.add(p)
        session.flush()
        ids.append(p.id)
        for code in rng.sample(CODES, rng.choice([0, 1, 1, 2, 3])):
            session.add(
                Condition(
                    patient_id=p.id,
                    code=code,
                    display=code,
                    clinical_status="resolved" if rng.random() < 0.1 else "active",
                    onset_date=None if rng.random() < 0.2 else today - timedelta(days=rng.randint(0, 1200)),
                    recorded_at=now - timedelta(days=rng.randint(0, 900)),
                )
            )
        for code, low, high, count in (
            (HBA1C, 5.5, 12.5, rng.choice([0, 1, 2, 3])),
            (CREATININE, 0.5, 4.5, rng.choice([0, 0, 1, 2])),
            (BMI, 16, 42, rng.choice([0, 1, 2])),
        ):
            moments = [
                now - timedelta(days=rng.randint(0, 800), minutes=rng.randint(0, 600)) for _ in range(count)
            ]
            if count >= 2 and rng.random() < 0.3:
                moments[1] = moments[0]  # a tie on time: the row written later wins
            for moment in moments:
                session.add(
                    Observation(
                        patient_id=p.id,
                        code=code,
                        display=code,
                        value=round(rng.uniform(low, high), 1),
                        unit="x",
                        effective_at=moment,
                        status="final" if rng.random() < 0.95 else "entered-in-error",
                    )
                )
                session.flush()
        for _ in range(rng.choice([0, 1, 2, 3])):
            moment = now - timedelta(days=rng.randint(0, 500), minutes=rng.randint(0, 600))
            systolic = round(rng.gauss(135, 15))
            for code, value in (
                (SYSTOLIC, systolic),
                (DIASTOLIC, round(systolic * 0.62 + rng.gauss(0, 6))),
            ):
                session.add(
                    Observation(
                        patient_id=p.id,
                        code=code,
                        display=code,
                        value=value,
                        unit="mm[Hg]",
                        effective_at=moment,
                    )
                )
            session.flush()
        for _ in range(rng.choice([0, 1, 2, 3])):
            session.add(
                Encounter(
                    patient_id=p.id,
                    encounter_class="outpatient",
                    status=rng.choice(["finished", "finished", "in-progress", "cancelled"]),
                    practitioner_id=rng.choice([*providers, None]),
                    start_at=now - timedelta(days=rng.randint(0, 600), minutes=rng.randint(0, 900)),
                )
            )
        if rng.random() < 0.3:
            session.add(MedicationStatement(patient_id=p.id, medication="Metformin", status="active"))
    session.flush()
    session.get(Patient, ids[5]).merged_into_id = ids[6]
    session.commit()
    refresh_population(session, actor=SYSTEM_ACTOR)


class Raw:
    """The raw rows as pandas frames, and the definitions applied to them."""

    def __init__(self, session):
        conn = session.connection()

        def frame(query, dates=()):
            df = pd.read_sql(query, conn)
            for column in dates:
                df[column] = pd.to_datetime(df[column], utc=True, format="mixed")
            return df

        self.today = local_today()
        self.patients = frame(
            select(
                Patient.id,
                Patient.sex,
                Patient.birth_date,
                Patient.active,
                Patient.deceased_at,
                Patient.merged_into_id,
            )
        )
        self.patients["birth_date"] = pd.to_datetime(self.patients["birth_date"]).dt.date
        alive = (
            self.patients["active"].astype(bool)
            & self.patients["deceased_at"].isna()
            & self.patients["merged_into_id"].isna()
        )
        self.population = self.patients[alive].set_index("id")
        self.conditions = frame(
            select(
                Condition.patient_id,
                Condition.code,
                Condition.clinical_status,
                Condition.onset_date,
                Condition.recorded_at,
            ),
            dates=["recorded_at"],
        )
        self.conditions = self.conditions[
            (self.conditions["clinical_status"] == "active")
            & self.conditions["patient_id"].isin(self.population.index)
        ]
        self.obs = frame(
            select(
                Observation.id,
                Observation.patient_id,
                Observation.code,
                Observation.value,
                Observation.effective_at,
                Observation.status,
            ),
            dates=["effective_at"],
        )
        self.obs = self.obs[self.obs["status"].isin(["final", "amended", "corrected"])]
        self.encounters = frame(
            select(
                Encounter.id,
                Encounter.patient_id,
                Encounter.status,
                Encounter.practitioner_id,
                Encounter.start_at,
            ),
            dates=["start_at"],
        )
        self.encounters = self.encounters[self.encounters["status"].isin(["finished", "in-progress"])]
        self.registries = {r.code: r.prefixes for r in list_registries(session, actor=READER) if r.active}
        self.names = {r.code: r.name for r in list_registries(session, actor=READER)}
        self.as_of = pd.Timestamp(session.execute(select(PopulationRefresh.refreshed_at)).scalar())
        if self.as_of.tzinfo is None:
            self.as_of = self.as_of.tz_localize("UTC")

    @staticmethod
    def age(birth: date, on: date) -> int:
        return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))

    def members(self, registry: str) -> pd.DataFrame:
        prefixes = tuple(self.registries[registry])
        rows = self.conditions[self.conditions["code"].map(lambda c: c.startswith(prefixes))].copy()
        onset = pd.to_datetime(rows["onset_date"]).dt.date
        rows["onset"] = onset.where(rows["onset_date"].notna(), rows["recorded_at"].dt.date)
        return rows.groupby("patient_id")["onset"].min().to_frame()

    def latest(self, code: str) -> pd.DataFrame:
        rows = self.obs[(self.obs["code"] == code) & self.obs["patient_id"].isin(self.population.index)]
        return rows.sort_values(["effective_at", "id"]).groupby("patient_id").tail(1).set_index("patient_id")

    def has(self, *prefixes: str) -> set[int]:
        return set(
            self.conditions[self.conditions["code"].map(lambda c: c.startswith(prefixes))]["patient_id"]
        )


@pytest.fixture
def raw(session) -> Raw:
    _build(session)
    return Raw(session)


def test_prevalence_by_condition_and_sex(session, raw):
    figure = prevalence_frame(session, actor=READER)
    expected = []
    sexes = [s for s in charts.SEX_ORDER if s in set(raw.population["sex"])]
    for code in sorted(raw.registries, key=lambda c: raw.names[c]):
        members = raw.population.loc[raw.members(code).index]
        for sex in sexes:
            m = int((members["sex"] == sex).sum())
            p = int((raw.population["sex"] == sex).sum())
            expected.append((code, raw.names[code], sex, m, p, round(100.0 * m / p, 2)))
    assert list(figure.itertuples(index=False, name=None)) == expected
    assert figure["members"].sum() > 0


@pytest.mark.parametrize("registry", ["diabetes", "hypertension", "asthma_copd"])
def test_prevalence_by_age_band(session, raw, registry):
    figure = age_band_frame(session, actor=READER, registry=registry)
    people = raw.population.copy()
    people["age"] = [raw.age(b, raw.today) for b in people["birth_date"]]
    people["band"] = [
        next(label for label, low, high in AGE_BANDS if low <= a <= high) for a in people["age"]
    ]
    members = people.loc[raw.members(registry).index]
    sexes = [s for s in charts.SEX_ORDER if s in set(people["sex"])]
    expected = []
    for label, _low, _high in AGE_BANDS:
        for sex in sexes:
            p = int(((people["band"] == label) & (people["sex"] == sex)).sum())
            m = int(((members["band"] == label) & (members["sex"] == sex)).sum())
            expected.append((label, sex, m, p, round(100.0 * m / p, 2) if p else 0.0))
    assert list(figure.itertuples(index=False, name=None)) == expected


def test_registry_trend(session, raw):
    figure = trend_frame(session, actor=READER, months=24)
    first = raw.today.replace(day=1)
    months = [(pd.Timestamp(first) - pd.DateOffset(months=k)).date() for k in range(23, -1, -1)]
    expected = []
    for code in sorted(raw.registries, key=lambda c: raw.names[c]):
        onsets = raw.members(code)["onset"]
        for month in months:
            end = (pd.Timestamp(month) + pd.DateOffset(months=1)).date()
            expected.append((month.strftime("%Y-%m"), code, raw.names[code], int((onsets < end).sum())))
    assert list(figure.itertuples(index=False, name=None)) == expected


@pytest.mark.parametrize("months", [6, 12, 24])
@pytest.mark.parametrize("measure", ["hba1c_poor", "bp_control", "bmi_screening"])
def test_measure_by_provider(session, raw, measure, months):
    figure = measure_frame(session, actor=READER, measure=measure, months=months)
    start = raw.as_of - pd.DateOffset(months=months)
    end_day = to_local(raw.as_of.to_pydatetime()).date()
    people = raw.population.copy()
    people["age"] = [raw.age(b, end_day) for b in people["birth_date"]]
    visits = raw.encounters.sort_values(["start_at", "id"])
    attributed = (
        visits[visits["practitioner_id"].notna()].groupby("patient_id").tail(1).set_index("patient_id")
    )
    people["provider"] = attributed["practitioner_id"].reindex(people.index).fillna(0).astype(int)
    palliative = raw.has("Z51.5")
    if measure == "hba1c_poor":
        base = people[people.index.isin(raw.members("diabetes").index) & people["age"].between(18, 75)]
        excluded = base.index.isin(palliative)
        latest = raw.latest(HBA1C).reindex(base.index)
        hit = latest["effective_at"].isna() | (latest["effective_at"] < start) | (latest["value"] > 9.0)
    elif measure == "bp_control":
        base = people[people.index.isin(raw.members("hypertension").index) & people["age"].between(18, 85)]
        excluded = base.index.isin(palliative | raw.has("N18.6"))
        sbp = raw.latest(SYSTOLIC).reindex(base.index)
        dbp = raw.latest(DIASTOLIC).reindex(base.index)
        hit = (sbp["effective_at"] >= start) & (sbp["value"] < 140) & (dbp["value"] < 90)
    else:
        last_visit = raw.encounters.groupby("patient_id")["start_at"].max().reindex(people.index)
        base = people[(people["age"] >= 18) & (last_visit >= start)]
        excluded = base.index.isin(palliative | raw.has("O", "Z33.1"))
        bmi = raw.latest(BMI).reindex(base.index)
        hit = bmi["effective_at"] >= start
    base = base.assign(excluded=excluded, hit=hit.fillna(False).to_numpy() & ~excluded)
    names = {0: "Unattributed", **dict(session.execute(select(AppUser.id, AppUser.display_name)).all())}
    grouped = []
    for provider, part in base.groupby("provider"):
        d, e, n = len(part), int(part["excluded"].sum()), int(part["hit"].sum())
        grouped.append(
            (
                int(provider),
                names[int(provider)],
                d,
                e,
                d - e,
                n,
                round(100.0 * n / (d - e), 1) if d > e else None,
            )
        )
    grouped.sort(key=lambda r: (r[0] == 0, r[1].lower()))
    d, e, n = len(base), int(base["excluded"].sum()), int(base["hit"].sum())
    grouped.append((-1, "Overall", d, e, d - e, n, round(100.0 * n / (d - e), 1) if d > e else None))
    got = [tuple(None if v != v else v for v in row) for row in figure.itertuples(index=False, name=None)]
    assert got == grouped
    assert d > 0


def test_egfr_stage_distribution(session, raw):
    figure = egfr_frame(session, actor=READER)
    latest = raw.latest(CREATININE)
    counts = {label: 0 for label, _low, _high in EGFR_STAGES}
    for patient_id, row in latest.iterrows():
        person = raw.population.loc[patient_id]
        age = raw.age(person["birth_date"], raw.today)
        if age < 18 or person["sex"] not in ("female", "male"):
            continue
        score = scores.egfr_ckd_epi_2021(creatinine_mg_dl=row["value"], age_years=age, sex=person["sex"])
        counts[scores.gfr_category(score.value)[0]] += 1
    assert list(figure.itertuples(index=False, name=None)) == list(counts.items())
    assert sum(counts.values()) > 0


def test_bmi_category_distribution(session, raw):
    figure = bmi_frame(session, actor=READER)
    latest = raw.latest(BMI)
    counts = {"Underweight": 0, "Healthy": 0, "Overweight": 0, "Obesity": 0}
    for patient_id, row in latest.iterrows():
        if raw.age(raw.population.loc[patient_id]["birth_date"], raw.today) < 18:
            continue
        value = row["value"]
        label = (
            "Underweight"
            if value < 18.5
            else "Healthy"
            if value < 25
            else "Overweight"
            if value < 30
            else "Obesity"
        )
        counts[label] += 1
    assert list(figure.itertuples(index=False, name=None)) == list(counts.items())


def test_a_clicked_bar_lists_exactly_the_patients_it_counts(session, raw):
    """Click-through lists use the same definitions as the bars: their totals agree."""
    prevalence = prevalence_frame(session, actor=READER)
    for row in prevalence.itertuples():
        _, total = list_cohort(
            session, actor=READER, filters={"registries": [row.registry], "sex": row.sex}, page_size=1
        )
        assert total == row.members
    for stage, patients in egfr_frame(session, actor=READER).itertuples(index=False, name=None):
        label, low, high = next(s for s in EGFR_STAGES if s[0] == stage)
        filters = {"egfr_min": low or 0, **({"egfr_max": high} if high else {})}
        assert count_cohort(session, actor=READER, filters=filters) == patients
    for category, patients in bmi_frame(session, actor=READER).itertuples(index=False, name=None):
        label, low, high = next(c for c in BMI_CATEGORIES if c[0] == category)
        filters = {"age_min": 18, "bmi_min": low or 5, **({"bmi_max": high} if high else {})}
        assert count_cohort(session, actor=READER, filters=filters) == patients
    for row in measure_frame(session, actor=READER, measure="hba1c_poor").itertuples():
        filters = {
            "measure_gap": "hba1c_poor",
            **({"provider_id": row.provider_id} if row.provider_id >= 0 else {}),
        }
        assert count_cohort(session, actor=READER, filters=filters) == row.numerator

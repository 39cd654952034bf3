"""Synthea's FHIR R4 export (``output/fhir``): one transaction bundle per patient, plus the
``hospitalInformation*`` and ``practitionerInformation*`` bundles of organizations and clinicians.

Each resource is translated into the row the CSV export would have written for it
(``source.py``), so the same mapper reads both. References are ``urn:uuid:<id>`` inside a bundle;
organizations and practitioners are referred to by identifier
(``Organization?identifier=https://github.com/synthetichealth/synthea|<id>``,
``Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|<npi>``), so they are keyed by that
identifier's value. Blood pressure arrives as one panel (85354-9) with systolic and diastolic
components: each component becomes its own row. Claims for prescriptions are left out (HMS bills
the encounter); an ExplanationOfBenefit gives what the payer paid.
"""

from __future__ import annotations

import json
from pathlib import Path

from hms_app.interop.synthea.source import PatientRecords, SyntheaFormatError, SyntheaSource

REFERENCE_PREFIXES = ("hospitalInformation", "practitionerInformation")


def _ref(reference: dict | None) -> str:
    """The id a reference points at: after ``urn:uuid:``, ``Type/`` or ``identifier=system|``."""
    text = (reference or {}).get("reference") or ""
    if "|" in text:
        return text.rsplit("|", 1)[1]
    if text.startswith("urn:uuid:"):
        return text[len("urn:uuid:") :]
    return text.rsplit("/", 1)[-1]


def _coding(concept: dict | None) -> dict:
    codings = (concept or {}).get("coding") or [{}]
    return codings[0]


def _first(items: list | None) -> dict:
    return (items or [{}])[0]


def _identifier(resource: dict, system_part: str) -> str:
    for identifier in resource.get("identifier") or []:
        if system_part in (identifier.get("system") or ""):
            return identifier.get("value") or resource.get("id", "")
    return resource.get("id", "")


def _patient(resource: dict, where: str) -> dict:
    name = next((n for n in resource.get("name") or [] if n.get("use") == "official"), None)
    name = name or _first(resource.get("name"))
    given = name.get("given") or []
    address = _first(resource.get("address"))
    phone = next((t.get("value") for t in resource.get("telecom") or [] if t.get("system") == "phone"), "")
    return {
        "Id": resource.get("id", ""),
        "BIRTHDATE": resource.get("birthDate", ""),
        "DEATHDATE": (resource.get("deceasedDateTime") or "")[:10],
        "FIRST": given[0] if given else "",
        "MIDDLE": " ".join(given[1:]),
        "LAST": name.get("family", ""),
        "GENDER": {"male": "M", "female": "F"}.get(resource.get("gender", ""), resource.get("gender", "")),
        "ADDRESS": " ".join(address.get("line") or []),
        "CITY": address.get("city", ""),
        "ZIP": address.get("postalCode", ""),
        "COUNTRY": address.get("country", ""),
        "PHONE": phone,
        "_where": where,
    }


def _encounter(r: dict, where: str) -> dict:
    period = r.get("period") or {}
    reason = _coding(_first(r.get("reasonCode")))
    kind = _coding(_first(r.get("type")))
    participant = _first(r.get("participant")).get("individual")
    return {
        "Id": r.get("id", ""),
        "START": period.get("start", ""),
        "STOP": period.get("end", ""),
        "ORGANIZATION": _ref(r.get("serviceProvider")),
        "PROVIDER": _ref(participant),
        "ENCOUNTERCLASS": (r.get("class") or {}).get("code", ""),
        "CODE": kind.get("code", ""),
        "DESCRIPTION": kind.get("display") or _first(r.get("type")).get("text", ""),
        "REASONCODE": reason.get("code", ""),
        "REASONDESCRIPTION": reason.get("display", ""),
        "_where": where,
    }


def _observations(r: dict, where: str) -> list[dict]:
    base = {
        "DATE": r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start", ""),
        "ENCOUNTER": _ref(r.get("encounter")),
        "CATEGORY": _coding(_first(r.get("category"))).get("code", ""),
        "_where": where,
    }
    parts = r.get("component") if "valueQuantity" not in r and r.get("component") else [r]
    rows = []
    for part in parts:
        coding = _coding(part.get("code"))
        quantity = part.get("valueQuantity")
        rows.append(
            base
            | {
                "CODE": coding.get("code", ""),
                "DESCRIPTION": coding.get("display", ""),
                "VALUE": "" if quantity is None else str(quantity.get("value", "")),
                "UNITS": (quantity or {}).get("unit") or (quantity or {}).get("code", ""),
                "TYPE": "numeric" if quantity is not None else "text",
            }
        )
    return rows


def _condition(r: dict, where: str) -> dict:
    coding = _coding(r.get("code"))
    return {
        "START": r.get("onsetDateTime") or r.get("recordedDate", ""),
        "STOP": r.get("abatementDateTime", ""),
        "ENCOUNTER": _ref(r.get("encounter")),
        "SYSTEM": coding.get("system", ""),
        "CODE": coding.get("code", ""),
        "DESCRIPTION": coding.get("display", ""),
        "_where": where,
    }


def _medication(r: dict, where: str) -> dict:
    coding = _coding(r.get("medicationCodeableConcept"))
    dosage = _first(r.get("dosageInstruction")).get("text", "")
    return {
        "START": r.get("authoredOn", ""),
        "STOP": "",
        "STATUS": r.get("status", ""),
        "ENCOUNTER": _ref(r.get("encounter")),
        "CODE": coding.get("code", ""),
        "DESCRIPTION": coding.get("display", ""),
        "DOSAGE": dosage,
        "_where": where,
    }


def _immunization(r: dict, where: str) -> dict:
    coding = _coding(r.get("vaccineCode"))
    return {
        "DATE": r.get("occurrenceDateTime", ""),
        "ENCOUNTER": _ref(r.get("encounter")),
        "CODE": coding.get("code", ""),
        "DESCRIPTION": coding.get("display") or (r.get("vaccineCode") or {}).get("text", ""),
        "_where": where,
    }


def _allergy(r: dict, where: str) -> dict:
    coding = _coding(r.get("code"))
    reaction = _first(r.get("reaction"))
    status = _coding(r.get("clinicalStatus")).get("code", "active")
    return {
        "START": r.get("recordedDate") or r.get("onsetDateTime", ""),
        "STOP": "" if status == "active" else (r.get("lastOccurrence") or r.get("recordedDate", "")),
        "STATUS": status,
        "ENCOUNTER": _ref(r.get("encounter")),
        "CODE": coding.get("code", ""),
        "DESCRIPTION": coding.get("display", ""),
        "DESCRIPTION1": _coding(_first(reaction.get("manifestation"))).get("display", ""),
        "SEVERITY1": reaction.get("severity", ""),
        "_where": where,
    }


def _procedure(r: dict, where: str) -> dict:
    coding = _coding(r.get("code"))
    period = r.get("performedPeriod") or {}
    return {
        "START": r.get("performedDateTime") or period.get("start", ""),
        "STOP": period.get("end", ""),
        "ENCOUNTER": _ref(r.get("encounter")),
        "CODE": coding.get("code", ""),
        "DESCRIPTION": coding.get("display", ""),
        "REASONDESCRIPTION": _coding(_first(r.get("reasonCode"))).get("display", ""),
        "_where": where,
    }


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON ({error})") from error
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise ValueError("not a FHIR Bundle")
    return data


def _resources(bundle: dict):
    for entry in bundle.get("entry") or []:
        resource = (entry or {}).get("resource") or {}
        if isinstance(resource, dict) and resource.get("resourceType"):
            yield resource


def _patient_records(
    path: Path, bundle: dict, payers: dict[str, dict], problems: list[str]
) -> PatientRecords | None:
    name = path.name
    resources = list(_resources(bundle))
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    if len(patients) != 1:
        problems.append(
            f"{name}: holds {len(patients)} Patient resources where a Synthea bundle has one; skipped"
        )
        return None
    records = PatientRecords(patient=_patient(patients[0], f"{name}#Patient/{patients[0].get('id', '')}"))
    encounters: dict[str, dict] = {}
    claims: dict[str, dict] = {}
    paid: dict[str, float] = {}
    add = records.records
    for r in resources:
        kind, where = r["resourceType"], f"{name}#{r['resourceType']}/{r.get('id', '')}"
        if kind == "Encounter":
            row = _encounter(r, where)
            encounters[row["Id"]] = row
            add["encounters"].append(row)
        elif kind == "Observation":
            add["observations"].extend(_observations(r, where))
        elif kind == "Condition":
            add["conditions"].append(_condition(r, where))
        elif kind == "MedicationRequest":
            add["medications"].append(_medication(r, where))
        elif kind == "Immunization":
            add["immunizations"].append(_immunization(r, where))
        elif kind == "AllergyIntolerance":
            add["allergies"].append(_allergy(r, where))
        elif kind == "Procedure":
            add["procedures"].append(_procedure(r, where))
        elif kind == "Claim" and not r.get("prescription"):
            item = _first(r.get("item"))
            payer = (_first(r.get("insurance")).get("coverage") or {}).get("display", "")
            claims[r.get("id", "")] = {
                "Id": r.get("id", ""),
                "APPOINTMENTID": _ref(_first(item.get("encounter"))),
                "SERVICEDATE": (r.get("billablePeriod") or {}).get("start", ""),
                "PRIMARYPATIENTINSURANCEID": payer,
                "TOTAL": str((r.get("total") or {}).get("value", "0")),
                "_where": where,
            }
            if payer and payer not in payers:
                payers[payer] = {"Id": payer, "NAME": payer, "_where": where}
        elif kind == "ExplanationOfBenefit":
            amount = ((r.get("payment") or {}).get("amount") or {}).get("value")
            if amount is not None:
                paid[_ref(r.get("claim"))] = float(amount)
    for claim in claims.values():
        encounter = encounters.get(claim["APPOINTMENTID"])
        if encounter is not None:  # the CSV export carries the money on the encounter
            encounter["TOTAL_CLAIM_COST"] = claim["TOTAL"]
            encounter["PAYER_COVERAGE"] = str(paid.get(claim["Id"], 0))
            encounter["PAYER"] = claim["PRIMARYPATIENTINSURANCEID"]
        add["claims"].append(claim)
    return records


def read_fhir_folder(folder: Path) -> SyntheaSource:
    """Read a folder of Synthea FHIR bundles, or refuse it with a plain reason."""
    files = sorted(path for path in folder.glob("*.json") if path.is_file())
    if not files:
        raise SyntheaFormatError(f"{folder} holds no .json files: it is not a Synthea FHIR export.")
    problems: list[str] = []
    organizations: dict[str, dict] = {}
    providers: dict[str, dict] = {}
    payers: dict[str, dict] = {}
    patient_files = []
    for path in files:
        if not path.name.startswith(REFERENCE_PREFIXES):
            patient_files.append(path)
            continue
        try:
            bundle = _read_json(path)
        except ValueError as error:
            problems.append(f"{path.name}: {error}; skipped")
            continue
        for r in _resources(bundle):
            where = f"{path.name}#{r['resourceType']}/{r.get('id', '')}"
            if r["resourceType"] == "Organization":
                key = _identifier(r, "synthea")
                address = _first(r.get("address"))
                organizations[key] = {
                    "Id": key,
                    "NAME": r.get("name", ""),
                    "CITY": address.get("city", ""),
                    "_where": where,
                }
            elif r["resourceType"] == "Practitioner":
                key = _identifier(r, "us-npi")
                name = _first(r.get("name"))
                full = " ".join(
                    [*(name.get("prefix") or []), *(name.get("given") or []), name.get("family", "")]
                )
                providers[key] = {
                    "Id": key,
                    "NAME": full.strip(),
                    "ORGANIZATION": "",
                    "GENDER": r.get("gender", ""),
                    "_where": where,
                }
            elif r["resourceType"] == "PractitionerRole":
                key = _ref(r.get("practitioner"))
                if key in providers:
                    providers[key]["ORGANIZATION"] = _ref(r.get("organization"))
    if not patient_files:
        raise SyntheaFormatError(
            f"{folder} holds no patient bundles, only organization and practitioner files."
        )

    # Patient bundles are read one at a time (a patient's bundle may be megabytes): first a pass
    # that checks they parse, so the refusal of a folder of non-bundles comes before anything is
    # written, and so the payers named on claims are known before the first patient.
    readable = []
    for path in patient_files:
        try:
            bundle = _read_json(path)
        except ValueError as error:
            problems.append(f"{path.name}: {error}; skipped")
            continue
        readable.append(path)
        for r in _resources(bundle):
            if r["resourceType"] == "Claim" and not r.get("prescription"):
                payer = (_first(r.get("insurance")).get("coverage") or {}).get("display", "")
                if payer and payer not in payers:
                    payers[payer] = {
                        "Id": payer,
                        "NAME": payer,
                        "_where": f"{path.name}#Claim/{r.get('id', '')}",
                    }
    if not readable:
        raise SyntheaFormatError(f"No file in {folder} is a FHIR bundle: {problems[0]}")

    def each_patient():
        for path in readable:
            records = _patient_records(path, _read_json(path), payers, problems)
            if records is not None:
                yield records

    return SyntheaSource(
        format="fhir",
        organizations=list(organizations.values()),
        providers=list(providers.values()),
        payers=list(payers.values()),
        patient_count=len(readable),
        patients=each_patient(),
        problems=problems,
    )

"""Offline medication knowledge and the pure check engine (no database; see docs/medication-knowledge.md).

``check_order`` checks a new order against a patient; ``check_drugs`` checks every pair among a list of drugs.
"""

from hms_app.cds.medications.checks import check_drugs, check_order
from hms_app.cds.medications.knowledge import Knowledge, knowledge, load_knowledge, reload_knowledge
from hms_app.cds.medications.model import SEVERITIES, Alert, DrugUse, PatientContext, UnknownDrug
from hms_app.cds.medications.records import Ingredient

__all__ = [
    "SEVERITIES",
    "Alert",
    "DrugUse",
    "Ingredient",
    "Knowledge",
    "PatientContext",
    "UnknownDrug",
    "check_drugs",
    "check_order",
    "knowledge",
    "load_knowledge",
    "reload_knowledge",
]

"""Inpatient wards and beds: wards, beds, admissions and transfers (placeholder)."""

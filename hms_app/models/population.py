"""Population health tables: registries and code sets, saved cohorts, outreach (placeholder)."""

"""Demo data for billing (placeholder: no seeders yet)."""

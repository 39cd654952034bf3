"""Demo data for population (placeholder: no seeders yet)."""

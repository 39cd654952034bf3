"""Demo data for wards (placeholder: no seeders yet)."""

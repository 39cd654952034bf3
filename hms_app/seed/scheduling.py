"""Demo data for scheduling (placeholder: no seeders yet)."""

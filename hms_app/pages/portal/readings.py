"""readings (telehealth): being built."""

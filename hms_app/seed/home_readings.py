"""home_readings (telehealth): being built."""

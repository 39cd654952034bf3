"""messages (telehealth): being built."""

"""video (telehealth): being built."""

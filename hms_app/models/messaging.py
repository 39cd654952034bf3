"""messaging (telehealth): being built."""

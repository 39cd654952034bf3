"""video_visit (telehealth): being built."""

"""video_visits (telehealth): being built."""

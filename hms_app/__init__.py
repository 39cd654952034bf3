"""HMS: an open-source hospital management system."""

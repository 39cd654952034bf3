"""Reflex states: what one screen shows, and handlers that call services."""

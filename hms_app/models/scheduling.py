"""Scheduling tables: resources, services and visit types, availability, appointments, waitlist, reminders (placeholder)."""

"""Shared UI: the layout shell, tables, form fields, stat cards."""

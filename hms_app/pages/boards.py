"""Placeholder: boards pages are being built."""

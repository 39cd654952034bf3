"""Placeholder: population pages are being built."""

"""Placeholder: billing pages are being built."""

"""Placeholder: booking pages are being built."""

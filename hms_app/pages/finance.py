"""Placeholder: finance pages are being built."""

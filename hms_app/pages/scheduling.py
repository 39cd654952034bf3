"""Placeholder: scheduling pages are being built."""

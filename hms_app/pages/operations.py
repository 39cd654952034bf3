"""Placeholder: operations pages are being built."""

"""Deterministic demo and scale data: one registry of seeders that every module extends."""

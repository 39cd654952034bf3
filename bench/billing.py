"""Billing and finance dashboard benchmarks (placeholder)."""

BENCHMARKS: list = []  # (figure names, run(stack, figures)) pairs, hooked into bench/run.py
GROUPS: dict[str, list[str]] = {}

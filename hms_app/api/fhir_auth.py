"""Placeholder until the SMART token endpoint lands: no routes, and no bearer token is valid."""

from __future__ import annotations

from starlette.requests import Request

ROUTES: list = []


async def bearer_access(request: Request):
    return None

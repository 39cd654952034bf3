"""Reading what a portal form sent."""

from __future__ import annotations


def form_fields(form, names: tuple[str, ...]) -> dict[str, str]:
    """Only the fields the form has, as short strings: a browser may send anything at all."""
    if not isinstance(form, dict):
        return {}
    return {name: str(form.get(name) or "")[:256] for name in names}

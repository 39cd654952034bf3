"""Reading what a portal form sent: the shared reader, with the portal forms' one limit."""

from __future__ import annotations

import functools

from hms_app.state import forms

PORTAL_FORM_LIMIT = 256
form_fields = functools.partial(forms.form_fields, limit=PORTAL_FORM_LIMIT)

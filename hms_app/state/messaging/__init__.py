"""Secure messaging screens' memory: the staff team inbox (/messages); the patient's side is
``state/portal/messages.py``. Both draw messages from ``common``."""

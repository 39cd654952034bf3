"""Patient screens, one module per screen: search, registration with live duplicate detection,
details (demographics with history, status, merges and insurance) and the printable wristband
with labels. Importing the package registers their routes."""

from hms_app.pages.patients import details, register, search, wristband  # noqa: F401

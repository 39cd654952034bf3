"""Every page module; importing one registers its routes."""

from hms_app.pages import account, admin, audit, auth, errors, home, portal  # noqa: F401

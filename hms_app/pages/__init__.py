"""Every page module; importing one registers its routes."""

from hms_app.pages import auth, errors, home, portal  # noqa: F401

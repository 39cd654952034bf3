"""The HMS application: pages and API routes are registered here."""

import logging
import secrets

import reflex as rx

import hms_app.models  # noqa: F401  (the whole schema, for Reflex's migration check)
from hms_app import pages  # noqa: F401  (registers every page)
from hms_app.api.routes import build_api
from hms_app.errors import DomainError
from hms_app.pages.errors import not_found_page

log = logging.getLogger("hms")


def backend_exception_handler(exception: Exception):
    """A rule a user broke is told to them; anything else is logged, never shown as a traceback."""
    if isinstance(exception, DomainError):
        return rx.toast.error(str(exception))
    reference = secrets.token_hex(4)
    log.exception("unhandled error (ref %s)", reference, exc_info=exception)
    return rx.toast.error(
        "Something went wrong and nothing was saved.",
        description=f"Please try again. If it keeps happening, give IT this reference: {reference}.",
        id="backend_error",
    )


app = rx.App(
    api_transformer=build_api(),
    backend_exception_handler=backend_exception_handler,
)
app.add_page(not_found_page, route="/404", title="Not found · HMS")

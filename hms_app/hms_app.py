"""The HMS application: pages and API routes are registered here."""

import gc
import logging
import secrets

import reflex as rx
from starlette.types import ASGIApp

import hms_app.models  # noqa: F401  (the whole schema, for Reflex's migration check)
from hms_app import pages  # noqa: F401  (registers every page)
from hms_app.api.routes import build_api
from hms_app.edge.stack import behind_the_edge
from hms_app.errors import DomainError
from hms_app.jobs import audit_sequencer, dicom_listener, periodic_jobs
from hms_app.pages.errors import not_found_page

log = logging.getLogger("hms")
GC_YOUNG_THRESHOLD = 10_000  # Python's default is 700 allocations


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


class HmsApp(rx.App):
    """Reflex's app behind HMS's HTTP edge (hms_app/edge): origins, security headers, the
    HttpOnly session cookie and the upload guard come before anything Reflex does."""

    def __call__(self) -> ASGIApp:
        return behind_the_edge(super().__call__(), self)


app = HmsApp(
    api_transformer=build_api(),
    backend_exception_handler=backend_exception_handler,
)
app.register_lifespan_task(periodic_jobs)
app.register_lifespan_task(audit_sequencer)
app.register_lifespan_task(dicom_listener)
app.add_page(not_found_page, route="/404", title="Not found · HMS")


@app.register_lifespan_task
def tune_garbage_collection() -> None:
    """Keep the collector's pauses out of the boards' way.

    A worker holds about 1.3 million objects that live as long as it does (modules, compiled
    pages, the schema), and a full collection walked them all: a 190 ms pause every few seconds
    under load, which every open board and every click waited through (it was most of the board
    benchmark's p95). Frozen, a full collection only walks what was made since. The higher
    first threshold lets the short-lived objects of each event die before they are promoted, so
    full collections become rare. With 100 boards open the p95 went from 230 to about 80 ms.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)

"""The patient chart, one module per tab or part of the screen (banner, summary, encounters and
their notes, vitals, problems, allergies, medications, immunizations, documents, the dialogs) and
the page that puts them together. Importing the package registers its route."""

from hms_app.pages.chart import page  # noqa: F401

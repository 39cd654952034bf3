"""Staff scheduling screens: the calendar (/schedule), no-show rates (/schedule/stats) and the
set-up of resources, services, templates and time off (/schedule/setup)."""

from hms_app.pages.scheduling import calendar, no_shows, setup  # noqa: F401  (registers the routes)

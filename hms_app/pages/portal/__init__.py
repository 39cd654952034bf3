"""The patient portal: the patient's record (/portal), sign-up, self-service booking, their
appointments, test results and bills, one module per screen, each drawn in
``components.portal_shell``."""

from hms_app.pages.portal import appointments, bills, booking, record, results, signup  # noqa: F401  (routes)

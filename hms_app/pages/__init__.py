"""Every page module; importing one registers its routes."""

import hms_app.pages.chart  # noqa: F401  (the patient chart)
import hms_app.pages.patients  # noqa: F401  (patient search, registration, details, wristband)
from hms_app.pages import account, admin, audit, auth, errors, home, portal  # noqa: F401

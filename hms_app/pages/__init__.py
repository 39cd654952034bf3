"""Every page module; importing one registers its routes."""

import hms_app.pages.chart  # noqa: F401  (the patient chart)
import hms_app.pages.patients  # noqa: F401  (patient search, registration, details, wristband)
from hms_app.pages import (  # noqa: F401
    account,
    admin,
    audit,
    auth,
    billing,  # invoices, payments, claims, expenses, catalogue
    boards,  # clinic flow board, waiting-room screen, ward bed board
    errors,
    finance,  # the finance dashboard
    home,
    operations,  # operations analytics
    population,  # registries, measures, care gaps, cohort builder
    portal,  # the patient portal: record, sign-up, booking, appointments, bills
    scheduling,  # staff calendar, booking, setup of resources and availability
)

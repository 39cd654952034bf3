"""Counts read as words: "1 patient", never "1 patients" (issue 11, item 25)."""

from __future__ import annotations

import pandas as pd

from hms_app.analytics import home, operations, population
from hms_app.analytics.finance import figures
from hms_app.plurals import counted, noun


def test_the_noun_agrees_with_its_number():
    assert [counted(n, "measurement") for n in (0, 1, 2, 1204)] == [
        "0 measurements",
        "1 measurement",
        "2 measurements",
        "1,204 measurements",
    ]
    assert counted(1, "registry member") == "1 registry member"
    assert (noun(1, "falls", "fall"), noun(3, "falls", "fall")) == ("falls", "fall")


def test_the_figures_hover_says_one_patient_one_invoice_one_appointment_one_visit():
    registrations = home.registrations_figure(
        pd.DataFrame({"month": ["2026-01", "2026-02"], "patients": [1, 2]})
    )
    assert list(registrations.data[0].customdata) == ["1 patient", "2 patients"]
    bands = population.distribution_figure(
        pd.DataFrame({"band": ["18-39", "40-64"], "patients": [1, 0]}), "band", ["#000", "#111"]
    )
    assert list(bands.data[0].customdata) == ["1 patient", "0 patients"]
    aging = figures.ar_aging_figure(
        pd.DataFrame({"label": ["0-30 days", "31-60 days"], "balance_cents": [1250, 0], "invoices": [1, 0]})
    )
    assert list(aging.data[0].text) == ["$12.50 · 1 invoice", "$0.00 · 0 invoices"]
    volume = operations.volume_figure(
        pd.DataFrame(
            {"day": ["2026-01-05", "2026-01-06"], "department": ["Cardiology"] * 2, "appointments": [1, 3]}
        )
    )
    assert list(volume.data[0].customdata) == ["1 appointment", "3 appointments"]
    waits = operations.wait_figure(
        pd.DataFrame(
            {
                "department": ["Cardiology"] * 2,
                "band": ["0-10 min", "10-20 min"],
                "visits": [1, 2],
                "mean_minutes": [9.0, 9.0],
            }
        )
    )
    assert list(waits.data[0].customdata) == ["1 visit", "2 visits"]

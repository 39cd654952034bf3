"""The population health screens, one module per screen; importing this package registers
their routes: the dashboard, measures and care gaps, the cohort builder and the registries."""

from hms_app.pages.population import cohorts, dashboard, measures, registries

__all__ = ["cohorts", "dashboard", "measures", "registries"]

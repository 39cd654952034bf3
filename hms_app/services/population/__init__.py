"""Population health: registries, quality measures, care gaps, outreach and cohorts.

One module per concern: ``refresh`` (the summary tables every screen reads, and how fresh they
are), ``registries``, ``measures`` (the definitions and their results per provider),
``filters`` (what a cohort is), ``cohorts`` (counts, audited lists, export, saved cohorts),
``outreach`` and ``dashboard`` (the dashboard's figures, permission-checked).

Other domains (the command line, the seeders, the benchmarks) import the names below from here;
the population domain's own code imports from the modules.
"""

from hms_app.services.population.cohorts import count_cohort
from hms_app.services.population.refresh import refresh_population
from hms_app.services.population.registries import ensure_default_registries

__all__ = ["count_cohort", "ensure_default_registries", "refresh_population"]

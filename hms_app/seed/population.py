"""Demo data for population health: the default registries, then the first summary refresh.

Runs after every seeder that writes clinical data, so that the dashboards of a fresh demo
show the hospital as seeded ("as of" the moment the seed finished).
"""

from __future__ import annotations

from hms_app.seed.registry import SeedContext, seeder
from hms_app.services import population
from hms_app.services.permissions import SYSTEM_ACTOR


@seeder("population", order=95)
def seed_population(ctx: SeedContext) -> None:
    population.ensure_default_registries(ctx.session, actor=SYSTEM_ACTOR)
    ctx.progress("population summary", 0, 1)
    population.refresh_population(ctx.session, actor=SYSTEM_ACTOR, today=ctx.as_of)
    ctx.progress("population summary", 1, 1)

"""The registry of seeders. A module adds its demo data with ``@seeder(name, order)``.

Seeders run in ``order`` within one call of ``run_seeders``; each gets the same context,
so the same ``--seed`` and ``--as-of`` always produce the same hospital.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from faker import Faker
from sqlmodel import Session

DEMO_PASSWORD = "HmsDemo2026!"


@dataclass
class SeedContext:
    session: Session
    seed: int
    patients: int
    as_of: date
    rng: random.Random
    faker: Faker
    progress: Callable[[str, int, int], None]
    # Days of stock history behind the inventory (a year for the demo; tests that only need the
    # tables filled ask for a few weeks, the seeding's slowest part being this history).
    stock_days: int = 365
    shared: dict = field(default_factory=dict)  # what one seeder leaves for the next (ids, pools)


@dataclass(frozen=True)
class Seeder:
    name: str
    order: int
    run: Callable[[SeedContext], None]


SEEDERS: dict[str, Seeder] = {}


def seeder(name: str, order: int) -> Callable[[Callable[[SeedContext], None]], Callable[[SeedContext], None]]:
    def register(fn: Callable[[SeedContext], None]) -> Callable[[SeedContext], None]:
        SEEDERS[name] = Seeder(name, order, fn)
        return fn

    return register


class ConsoleProgress:
    """Progress on stderr: one line per step, redrawn in place on a terminal."""

    def __init__(self, stream=None, quiet: bool = False):
        # Looked up per instance: a default bound at import would keep a stream that may be closed later.
        self.stream, self.quiet, self.started = stream or sys.stderr, quiet, time.perf_counter()
        self._last = 0.0

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.quiet:
            return
        now = time.perf_counter()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        percent = 100 * done // max(total, 1)
        end = "\n" if done >= total or not self.stream.isatty() else "\r"
        self.stream.write(f"  {step:<22} {done:>9,}/{total:,} ({percent:3d}%){end}")
        self.stream.flush()


def run_seeders(
    session: Session,
    *,
    patients: int,
    seed: int = 42,
    as_of: date | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    only: list[str] | None = None,
    stock_days: int = 365,
) -> SeedContext:
    """Run every registered seeder (or ``only`` these) in order, in one deterministic pass."""
    from hms_app import modules

    modules.load("seeders")  # each registers its seeders

    faker = Faker(["en_US"])
    faker.seed_instance(seed)
    context = SeedContext(
        session=session,
        seed=seed,
        patients=patients,
        as_of=as_of or date.today(),
        rng=random.Random(seed),
        faker=faker,
        progress=progress or (lambda *_: None),
        stock_days=stock_days,
    )
    from hms_app.db import analyze

    for item in sorted(SEEDERS.values(), key=lambda s: s.order):
        if only and item.name not in only:
            continue
        item.run(context)
        # What a seeder bulk-loaded is queried by the next (and by the population refresh):
        # the planner must know its size first.
        analyze(session)
        session.commit()
    return context

"""The module registry is the one list: what a module declares is what the app has, and back."""

from __future__ import annotations

import importlib

import pytest
from reflex_base.registry import RegistrationContext

from hms_app import modules
from hms_app.models import metadata


@pytest.fixture(scope="module")
def app_routes() -> dict[str, str]:
    """Every page route the app registers, with the module of the function that draws it."""
    import hms_app.hms_app  # noqa: F401  (registers every page)

    routes = {}
    for render, kwargs in RegistrationContext.ensure_context().decorated_pages:
        routes[kwargs.get("route") or render.__name__] = render.__module__
    return routes


def _declared(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + ".") for prefix in prefixes)


def test_module_names_and_nav_routes_and_orders_are_unique():
    names = [module.name for module in modules.MODULES]
    assert len(names) == len(set(names))
    nav = modules.collect("nav")
    assert len({entry.route for entry in nav}) == len(nav)
    assert len({entry.order for entry in nav}) == len(nav)
    topics = modules.collect("live_topics")
    assert len(topics) == len(set(topics))


def test_a_permission_or_role_declared_twice_is_refused(monkeypatch):
    twice = modules.Module(name="copy", title="copy", permissions={"patient.read": "again"})
    monkeypatch.setattr(modules, "MODULES", (*modules.MODULES, twice))
    with pytest.raises(ValueError, match="patient.read"):
        modules.merged("permissions")


def test_grants_name_only_declared_roles_and_permissions():
    roles, permissions = modules.merged("roles"), modules.merged("permissions")
    for module in modules.MODULES:
        for role, granted in module.grants.items():
            assert role in roles, f"{module.name} grants to unknown role {role}"
            assert granted <= set(permissions), f"{module.name}: {granted - set(permissions)}"
        for entry in module.nav:
            assert entry.permission is None or entry.permission in permissions


def test_every_declared_path_imports_and_every_job_resolves():
    from bench.run import PLATFORM_BENCHMARKS, catalogue

    for kind in ("models", "pages", "seeders", "benchmarks"):
        assert modules.load(kind)
    benchmarks, groups = catalogue()
    assert len(benchmarks) > len(PLATFORM_BENCHMARKS) and "patients_1m" in groups
    for job in modules.collect("jobs"):
        assert callable(modules.resolve(job.target))


def test_every_table_belongs_to_a_declared_models_module():
    from sqlmodel import SQLModel

    declared = modules.collect("models")
    tables = {mapper.local_table.name for mapper in SQLModel._sa_registry.mappers}
    assert tables == {table.name for table in metadata.sorted_tables}
    for mapper in SQLModel._sa_registry.mappers:
        assert _declared(mapper.class_.__module__, declared), f"{mapper.class_} is not in the registry"


def test_every_page_comes_from_a_declared_pages_module_and_every_nav_route_is_a_page(app_routes):
    declared = modules.collect("pages")
    strays = {route: module for route, module in app_routes.items() if not _declared(module, declared)}
    assert not strays, f"pages from modules the registry does not list: {strays}"
    for entry in modules.collect("nav"):
        assert entry.route.strip("/") in {route.strip("/") for route in app_routes}, entry


def test_the_shell_the_live_topics_and_the_seeders_read_the_registry():
    from hms_app.components.shell import NAV
    from hms_app.seed.registry import SEEDERS, run_seeders  # noqa: F401
    from hms_app.services import live

    assert modules.nav_entries() == NAV
    assert frozenset(modules.collect("live_topics")) == live.TOPICS
    modules.load("seeders")
    seeder_modules = {importlib.import_module(s.run.__module__).__name__ for s in SEEDERS.values()}
    assert seeder_modules <= set(modules.collect("seeders"))

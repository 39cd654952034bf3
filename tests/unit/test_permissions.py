"""The permission catalogue and the one check every service uses."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from hms_app.errors import Forbidden, NotSignedIn
from hms_app.services.permissions import (
    DEFAULT_GRANTS,
    LOCKED_GRANTS,
    PERMISSIONS,
    PORTAL_ROLES,
    ROLES,
    SYSTEM_ACTOR,
    Actor,
    authorize,
)

ISSUE_ROLES = {
    "admin",
    "physician",
    "nurse",
    "receptionist",
    "lab_technician",
    "radiologist",
    "pharmacist",
    "billing_clerk",
    "manager",
    "patient",
    # Asked for by the inventory issue (stores, biomedical engineering) and the laboratory issue
    # (who an unacknowledged critical result escalates to), and the radiology issue (who runs the
    # scanners' modality work list).
    "storekeeper",
    "biomed",
    "charge_nurse",
    "department_lead",
    "radiographer",
    # The interoperability issue: the role a registered FHIR system client's account holds.
    "integration",
}


def test_the_roles_are_the_ones_the_hospital_asked_for():
    assert set(ROLES) == ISSUE_ROLES
    assert all(label.strip() for label in ROLES.values())


def test_every_role_has_default_grants_and_every_grant_is_a_known_permission():
    assert set(DEFAULT_GRANTS) == set(ROLES)
    for role, grants in DEFAULT_GRANTS.items():
        assert grants, f"{role} has no permissions"
        assert grants <= set(PERMISSIONS), f"{role}: unknown {grants - set(PERMISSIONS)}"


def test_every_permission_is_described_and_granted_to_some_role():
    granted = set().union(*DEFAULT_GRANTS.values())
    assert granted == set(PERMISSIONS)
    assert all(text.strip() for text in PERMISSIONS.values())


def test_locked_grants_are_part_of_the_admin_defaults_and_keep_access_manageable():
    assert set(LOCKED_GRANTS) <= set(ROLES)
    for role, locked in LOCKED_GRANTS.items():
        assert locked <= DEFAULT_GRANTS[role]
    assert {"user.manage", "role.manage"} <= LOCKED_GRANTS["admin"]


def test_portal_roles_hold_only_portal_access_and_staff_roles_never_do():
    assert set(ROLES) >= PORTAL_ROLES
    for role, grants in DEFAULT_GRANTS.items():
        if role in PORTAL_ROLES:
            assert grants == {"portal.self"}
        else:
            assert "portal.self" not in grants, role


def test_the_command_line_actor_can_do_everything_except_act_as_a_patient():
    assert SYSTEM_ACTOR.permissions == set(PERMISSIONS) - {"portal.self"}
    assert SYSTEM_ACTOR.patient_id is None


def _actor(*permissions: str, patient_id: int | None = None) -> Actor:
    return Actor(user_id=1, username="someone", permissions=frozenset(permissions), patient_id=patient_id)


def test_authorize_returns_the_actor_who_holds_the_permission():
    nurse = _actor("patient.read")
    assert authorize(nurse, "patient.read") is nurse
    assert authorize(nurse, "patient.read", patient_id=42) is nurse  # staff are not tied to one patient


def test_authorize_refuses_nobody_and_the_wrong_permission():
    with pytest.raises(NotSignedIn):
        authorize(None, "patient.read")
    with pytest.raises(Forbidden) as refused:
        authorize(_actor("patient.read"), "patient.write")
    assert "register patients" in str(refused.value)
    assert not isinstance(refused.value, NotSignedIn)


def test_a_portal_user_may_only_touch_their_own_patient():
    patient = _actor("portal.self", patient_id=5)
    assert authorize(patient, "portal.self", patient_id=5) is patient
    with pytest.raises(Forbidden):
        authorize(patient, "portal.self", patient_id=6)


def test_a_misspelt_permission_is_a_programming_error_not_a_refusal():
    with pytest.raises(ValueError):
        authorize(SYSTEM_ACTOR, "patient.raed")


def test_actor_can_reflects_its_permissions():
    actor = _actor("lab.work")
    assert actor.can("lab.work") and not actor.can("patient.read")


# --------------------------------------------------------------------------- every service refuses


class _StandInRow:
    """What a by-id lookup returns before the check: whose record it is, and nothing more."""

    patient_id = 1

    def __init__(self, what: str):
        self._what = what

    def __getattr__(self, name):
        raise AssertionError(f"the service used {self._what}.{name} before checking the permission")


class _StandInResult:
    def __init__(self, what: str):
        self._what = what

    def scalar_one_or_none(self):
        return _StandInRow(self._what)

    scalar_one = scalar_one_or_none

    def __getattr__(self, name):
        raise AssertionError(f"the service used result.{name} of {self._what} before checking the permission")


class _NoDatabase:
    """Stands in for the session until the permission check.

    A service may look up the one row the call names (``session.get`` or a single-row
    ``execute``), because only that row says whose record it is; it gets a stand-in that
    answers ``patient_id`` and nothing else. Anything more fails the test loudly.
    """

    def get(self, model, ident, **_options):
        return _StandInRow(getattr(model, "__name__", str(model)))

    def execute(self, statement, *_args, **_kwargs):
        return _StandInResult(str(statement).split("\n")[0])

    def __getattr__(self, name):
        raise AssertionError(f"the service used the database (session.{name}) before checking the permission")


# Service functions that take ``actor`` but are deliberately not gated by one permission.
# Each is still refused for nobody (actor=None); what they do for a signed-in user is
# tested where named.
NOT_PERMISSION_GATED = {
    "hms_app.services.security.begin_mfa_enrolment": "self-service: any signed-in user sets up their own second factor (tests/services/test_security.py)",
    "hms_app.services.security.confirm_mfa_enrolment": "self-service: confirms the caller's own authenticator (tests/services/test_security.py)",
    "hms_app.services.accounts.change_own_password": "self-service: needs the caller's current password (tests/services/test_security.py)",
    "hms_app.services.accounts.get_own_account": "self-service: reads only the caller's own account",
    "hms_app.services.home.home_figures": "returns only the cards the actor's permissions allow; with none, an empty list "
    "(tests/services/test_home_figures.py)",
    "hms_app.services.home.load_home": "home_figures' cards, plus the registrations chart only with analytics.read",
    "hms_app.services.home_work.todays_work": "only the worklists the actor's permissions allow; with none, an empty "
    "list (tests/services/test_home_work.py)",
}

# Functions that cannot raise NotSignedIn for actor=None, with the reason. They must still
# refuse (raise) without touching the database.
NONE_ACTOR_GAPS = {
    "hms_app.services.patients.records.get_patient_summary": "reads actor.patient_id to pick the permission before authorize(), so None raises AttributeError",
    "hms_app.services.emr.chart.portal_record": "passes actor.patient_id as authorize()'s argument, so None raises AttributeError before the check",
}


def _service_functions() -> list:
    import hms_app.analytics
    import hms_app.services

    found = []
    for package in (hms_app.services, hms_app.analytics):
        # Every module, those of domain packages too (services/scheduling/booking.py ...).
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name, fn in inspect.getmembers(module, inspect.isfunction):
                if name.startswith("_") or fn.__module__ != module.__name__:
                    continue
                actor = inspect.signature(fn).parameters.get("actor")
                if actor is not None and actor.kind is inspect.Parameter.KEYWORD_ONLY:
                    found.append(fn)
    return found


SERVICE_FUNCTIONS = _service_functions()


def _qualified(fn) -> str:
    return f"{fn.__module__}.{fn.__name__}"


def _call(fn, actor):
    """Call ``fn`` as ``actor`` with placeholder arguments: the permission check must come first."""
    args, kwargs = [], {}
    for index, parameter in enumerate(inspect.signature(fn).parameters.values()):
        if index == 0:
            args.append(_NoDatabase())
        elif parameter.name == "actor":
            kwargs["actor"] = actor
        elif parameter.default is not inspect.Parameter.empty:
            continue
        elif parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = None
        elif parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            args.append(None)
    return fn(*args, **kwargs)


NOBODYS_PERMISSIONS = Actor(
    user_id=424242, username="no.permissions", roles=frozenset({"nurse"}), permissions=frozenset()
)


def test_the_enumeration_finds_the_services_it_must():
    names = {_qualified(fn) for fn in SERVICE_FUNCTIONS}
    assert {
        "hms_app.services.accounts.create_user",
        "hms_app.services.audit.search_audit",
        "hms_app.services.patients.records.get_patient_summary",
        "hms_app.services.home.registrations_by_month",
        "hms_app.services.home.home_figures",
    } <= names
    stale = (set(NOT_PERMISSION_GATED) | set(NONE_ACTOR_GAPS)) - names
    assert not stale, f"listed exceptions that no longer exist: {stale}"


@pytest.mark.parametrize(
    "fn", [f for f in SERVICE_FUNCTIONS if _qualified(f) not in NOT_PERMISSION_GATED], ids=_qualified
)
def test_a_service_refuses_an_actor_without_its_permission(fn):
    with pytest.raises(Forbidden) as refused:
        _call(fn, NOBODYS_PERMISSIONS)
    assert not isinstance(refused.value, NotSignedIn)


@pytest.mark.parametrize("fn", SERVICE_FUNCTIONS, ids=_qualified)
def test_a_service_refuses_nobody(fn):
    name = _qualified(fn)
    if name in NONE_ACTOR_GAPS:
        with pytest.raises(Exception) as refused:  # noqa: B017, PT011  (see NONE_ACTOR_GAPS for why)
            _call(fn, None)
        assert not isinstance(refused.value, NotSignedIn), (
            f"{name} now says NotSignedIn: drop it from NONE_ACTOR_GAPS"
        )
        assert not isinstance(refused.value, AssertionError), str(refused.value)
        return
    with pytest.raises(NotSignedIn):
        _call(fn, None)


def test_an_id_sent_back_by_the_browser_must_be_a_plain_positive_whole_number():
    from hms_app.errors import ValidationError
    from hms_app.state.session import browser_id

    assert browser_id("42") == 42 and browser_id(7) == 7
    for bad in ("0", "-3", "4.2", "١٢", "", "9" * 13, True, None, [1]):
        with pytest.raises(ValidationError):
            browser_id(bad)

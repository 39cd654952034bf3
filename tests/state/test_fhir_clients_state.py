"""The FHIR clients screen's state driven as an administrator's tab would, against the test database.
Which handlers refuse whom is covered for every handler by ``test_handler_guards.py``."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.fhir_access import FhirClient
from hms_app.services import accounts, fhir_clients, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.fhir_clients import FhirClientsState
from tests.services.fhir_keys import public_jwks, rsa_key
from tests.state.test_patients_state import PASSWORD, _audit, _call, _tab


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def admin(session):
    accounts.ensure_roles(session)
    for username, role in (("ada", "admin"), ("nina", "nurse")):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username,
            password=PASSWORD,
            roles=[role],
        )
    return "ada"


def _form(**fields) -> dict:
    return {"name": "", "description": "", "scopes": "", "jwks": "", **fields}


async def test_an_administrator_registers_a_client_and_sees_it_listed(admin):
    tab = _tab(FhirClientsState, "/admin/fhir-clients", admin)
    await _call(tab, "load")
    assert tab.loaded and tab.rows == []
    await _call(tab, "open_create")
    await _call(
        tab,
        "submit_create",
        _form(
            name="regional-lab",
            description="Results feed",
            scopes="system/Patient.read",
            jwks=public_jwks(rsa_key()),
        ),
    )
    assert tab.dialog == "" and tab.field_errors == {}
    [line] = tab.rows
    assert (line.name, line.role, line.scopes, line.key_count, line.enabled, line.last_token) == (
        "regional-lab",
        "integration",
        ["system/Patient.read"],
        1,
        True,
        "",
    )
    [audit] = _audit("fhir.client.register")
    assert audit.username == "ada" and audit.screen == "/admin/fhir-clients"


async def test_a_bad_form_shows_every_fields_message_and_registers_nothing(admin):
    tab = _tab(FhirClientsState, "/admin/fhir-clients", admin)
    await _call(tab, "load")
    await _call(tab, "open_create")
    private = public_jwks(rsa_key()).replace('"kty"', '"d": "secret", "kty"')
    await _call(tab, "submit_create", _form(name="x", scopes="user/*.read", jwks=private))
    assert tab.dialog == "create"
    assert set(tab.field_errors) == {"name", "scope", "jwks"}
    assert "private key" in tab.field_errors["jwks"]
    with hms_db.session_scope() as s:
        assert s.execute(select(FhirClient)).first() is None
    events = await _call(tab, "set_form_role", "admin")  # not offered: refused if sent anyway
    assert events and tab.form_role == "integration"


async def test_disabling_and_revoking_ask_first_and_act_on_a_listed_client_only(admin):
    with hms_db.session_scope() as s:
        grant = fhir_clients.issue_token_for_operator(s, client_name="nightly", scope="system/*.read")
    tab = _tab(FhirClientsState, "/admin/fhir-clients", admin)
    await _call(tab, "load")
    [line] = tab.rows
    assert line.live_tokens == 1 and line.last_token != ""
    await _call(tab, "ask_confirm", "revoke", line.id)
    assert tab.dialog == "revoke" and tab.dialog_name == "nightly"
    await _call(tab, "confirm")
    assert tab.dialog == "" and tab.rows[0].live_tokens == 0
    with hms_db.session_scope() as s:
        assert fhir_clients.resolve_bearer(s, token=grant.access_token, screen="x") is None
    await _call(tab, "ask_confirm", "disable", line.id)
    await _call(tab, "confirm")
    assert tab.rows[0].enabled is False
    await _call(tab, "enable", line.id)
    assert tab.rows[0].enabled is True
    assert [a.action for a in _audit("fhir.client.disable") + _audit("fhir.client.enable")] == [
        "fhir.client.disable",
        "fhir.client.enable",
    ]
    events = await _call(tab, "ask_confirm", "disable", 99999)  # an id this screen never showed
    assert events and tab.dialog == ""
    events = await _call(tab, "ask_confirm", "delete", line.id)
    assert events and tab.dialog == ""


async def test_editing_changes_scopes_and_keeps_keys_when_none_are_pasted(admin):
    with hms_db.session_scope() as s:
        fhir_clients.register_client(
            s,
            actor=SYSTEM_ACTOR,
            name="lab",
            allowed_scopes="system/Patient.read",
            jwks=public_jwks(rsa_key()),
        )
    tab = _tab(FhirClientsState, "/admin/fhir-clients", admin)
    await _call(tab, "load")
    await _call(tab, "open_edit", tab.rows[0].id)
    assert tab.dialog_scopes == "system/Patient.read"
    await _call(
        tab, "submit_edit", _form(description="Lab", scopes="system/Patient.read system/Observation.rs")
    )
    assert (
        tab.rows[0].scopes == ["system/Patient.read", "system/Observation.rs"] and tab.rows[0].key_count == 1
    )


async def test_a_nurse_is_refused_on_the_server_and_sees_no_client(admin):
    with hms_db.session_scope() as s:
        fhir_clients.issue_token_for_operator(s, client_name="nightly", scope="system/*.read")
    tab = _tab(FhirClientsState, "/admin/fhir-clients", "nina")
    await _call(tab, "load")
    assert tab.rows == [] and not tab.loaded
    assert any("FhirClientsState.load" in (a.detail or "") for a in _audit("access.denied"))

"""The ICE servers video visits hand to browsers: read from HMS_ICE_SERVERS (checked at start-up),
with short-lived TURN credentials when HMS_TURN_SECRET (coturn's static-auth-secret) is set."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from hms_app.errors import Forbidden
from hms_app.services.permissions import Actor
from hms_app.services.video_visits import ice_servers_for
from hms_app.settings import get_settings

DOCTOR = Actor(user_id=7, username="dr", permissions=frozenset({"telehealth.conduct"}))
PATIENT = Actor(user_id=8, username="pat", permissions=frozenset({"portal.self"}), patient_id=3)
CLERK = Actor(user_id=9, username="clerk", permissions=frozenset({"appointment.read"}))
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings_env(monkeypatch):
    def apply(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    monkeypatch.delenv("HMS_ICE_SERVERS", raising=False)
    monkeypatch.delenv("HMS_TURN_SECRET", raising=False)
    get_settings.cache_clear()
    yield apply
    get_settings.cache_clear()


def test_by_default_no_servers_host_candidates_only(settings_env):
    assert ice_servers_for(None, actor=DOCTOR, now=NOW) == []


def test_static_servers_are_handed_over_as_configured(settings_env):
    servers = [
        {"urls": "stun:turn.example.org:3478"},
        {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"},
    ]
    settings_env(HMS_ICE_SERVERS=json.dumps(servers))
    assert ice_servers_for(None, actor=PATIENT, now=NOW) == servers


def test_a_turn_secret_gives_each_user_a_credential_that_expires(settings_env):
    settings_env(
        HMS_ICE_SERVERS=json.dumps([{"urls": "stun:t.example.org"}, {"urls": "turns:t.example.org:5349"}]),
        HMS_TURN_SECRET="s3cret",
    )
    stun, turn = ice_servers_for(None, actor=DOCTOR, now=NOW)
    assert "username" not in stun
    expiry, user = turn["username"].split(":")
    assert (int(expiry), user) == (int(NOW.timestamp()) + 12 * 3600, "hms7")
    expected = base64.b64encode(
        hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected


@pytest.mark.parametrize(
    "raw",
    ["not json", "{}", '[{"urls": "http://evil.example"}]', '[{"urls": "stun:x", "extra": 1}]', "[{}]"],
)
def test_a_malformed_setting_stops_the_start(settings_env, raw):
    settings_env(HMS_ICE_SERVERS=raw)
    with pytest.raises(RuntimeError, match="HMS_ICE_SERVERS"):
        get_settings()


def test_only_participants_get_servers(settings_env):
    with pytest.raises(Forbidden):
        ice_servers_for(None, actor=CLERK, now=NOW)

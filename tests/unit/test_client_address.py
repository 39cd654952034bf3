"""Issue 11, item 11: the client address the sign-up limits count. Behind HMS_TRUSTED_PROXY_HOPS
proxies it is the X-Forwarded-For entry that many places from the right; at 0 (the default) the
header, which any client can write, is ignored."""

from __future__ import annotations

import importlib

import pytest
import reflex.app as reflex_app
from reflex_base import constants

from hms_app.settings import get_settings


@pytest.fixture
def hops(monkeypatch):
    def configure(value: str | None):
        if value is None:
            monkeypatch.delenv("HMS_TRUSTED_PROXY_HOPS", raising=False)
        else:
            monkeypatch.setenv("HMS_TRUSTED_PROXY_HOPS", value)
        get_settings.cache_clear()
        import rxconfig

        config = importlib.reload(rxconfig).config
        monkeypatch.setattr(reflex_app, "get_config", lambda: config)
        return config

    yield configure
    get_settings.cache_clear()


def _client_ip(forwarded_for: str | None, peer: str = "10.0.0.5") -> str:
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for is not None else []
    environ = {"asgi.scope": {"client": (peer, 5555), "headers": headers}}
    data = reflex_app.EventNamespace._build_static_router_data(None, "sid", environ)
    return data[constants.RouteVar.CLIENT_IP]


def test_by_default_a_forged_header_is_ignored(hops):
    assert hops(None).trusted_proxy_hops == 0
    assert _client_ip("203.0.113.50") == "10.0.0.5"


def test_behind_one_proxy_the_address_it_recorded_counts_not_what_the_client_wrote(hops):
    assert hops("1").trusted_proxy_hops == 1
    # The client wrote "1.2.3.4"; the proxy appended the address it saw.
    assert _client_ip("1.2.3.4, 198.51.100.23") == "198.51.100.23"
    assert _client_ip("198.51.100.23") == "198.51.100.23"


def test_behind_two_proxies_the_second_entry_from_the_right_counts(hops):
    hops("2")
    assert _client_ip("1.2.3.4, 198.51.100.23, 10.0.0.9") == "198.51.100.23"


@pytest.mark.parametrize("value", ["-1", "11", "one"])
def test_a_wrong_hop_count_stops_start_up_with_a_message(monkeypatch, value):
    monkeypatch.setenv("HMS_TRUSTED_PROXY_HOPS", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="HMS_TRUSTED_PROXY_HOPS"):
            get_settings()
    finally:
        get_settings.cache_clear()

"""Item 5 against the running server: every answer carries the security headers, every page a
policy that lets only its own scripts run, and the app still works under that policy."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot, sign_in
from tests.production_server import Server
from tests.security.attacker import request

INLINE_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script>", re.DOTALL)


def _policy(value: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in value.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/login/", "/", "/patients/1", "/no-such-page"])
def test_every_page_allows_exactly_its_own_inline_scripts(hms_server: Server, path: str):
    answer = request(hms_server.url, "GET", path, {"Accept-Encoding": "gzip"})
    assert answer.header("content-type").startswith("text/html")
    html = gzip.decompress(answer.body) if answer.header("content-encoding") == "gzip" else answer.body
    policy = _policy(answer.header("content-security-policy"))
    inline = {
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for attributes, body in INLINE_SCRIPT.findall(html)
        if body and b"src=" not in attributes
    }
    assert inline, "the built pages boot with inline scripts"
    assert set(policy["script-src"]) == {"'self'", "'unsafe-eval'", *inline}
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert answer.header("x-frame-options") == "DENY"
    assert answer.header("x-content-type-options") == "nosniff"
    assert answer.header("referrer-policy") == "same-origin"
    assert answer.header("strict-transport-security") is None  # plain http here


def test_data_scripts_and_documents_cannot_be_framed_or_sniffed(hms_server: Server):
    for path in ("/api/health", "/favicon.ico", "/api/documents/1"):
        answer = request(hms_server.url, "GET", path)
        assert answer.header("x-content-type-options") == "nosniff", path
        assert answer.header("x-frame-options") == "DENY", path
        assert answer.header("content-security-policy") == "frame-ancestors 'none'", path


def _watch_policy(page: Page) -> list[str]:
    """Every Content-Security-Policy violation the page reports, as the console shows them."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    return violations


def test_the_app_works_under_the_policy(page: Page, base_url):
    violations = _watch_policy(page)
    sign_in(page, "admin")  # the login page's form, the websocket, call_script (the cookie claim)
    expect(page.locator("[data-testid=user-name]")).to_have_text("Ada Admin")
    expect(page.locator(".js-plotly-plot")).to_be_visible(timeout=60_000)  # the management chart
    screenshot(page, "csp-home-admin")
    page.goto("/admin/audit")
    expect(page.locator("[data-testid=audit-row]").first).to_be_visible()
    assert violations == []


def test_a_chart_works_under_the_policy(page: Page, base_url):
    violations = _watch_policy(page)
    sign_in(page, "dr.grey")
    page.goto("/patients/1")
    expect(page.locator("[data-testid=chart-banner]")).to_be_visible()
    expect(page.locator("[data-testid=chart-name]")).not_to_be_empty()
    screenshot(page, "csp-chart")
    assert violations == []


def test_the_portal_works_under_the_policy(page: Page, base_url):
    violations = _watch_policy(page)
    sign_in(page, "patient")
    expect(page.locator("[data-testid=portal-name]")).to_contain_text("Hello, ")
    screenshot(page, "csp-portal")
    assert violations == []

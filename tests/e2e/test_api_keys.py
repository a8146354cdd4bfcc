"""A customer creates an API key, sees it once, uses it, and reads the API docs (served without any CDN)."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from accounts.models import ApiKey
from tests.e2e.test_login_flow import sign_in


def test_a_customer_creates_a_key_sees_it_once_and_reads_the_docs(page, live_server, alice, output_path):
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else 0)
    page.on("requestfailed", lambda request: refused.append(request.url))

    sign_in(page, live_server, "alice")
    page.get_by_role("navigation").get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("nightly report")
    page.get_by_label("Read-write: may also buy, renew and change").check()
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_text("it is shown only this once")).to_be_visible()
    key = page.locator("#new-key-value").inner_text().strip()
    prefix = ApiKey.objects.get(user=alice).prefix
    assert key.startswith(prefix + ".")
    expect(page.locator("#api-key-rows")).to_contain_text("nightly report")
    expect(page.locator("#api-key-rows")).to_contain_text("Read-write")
    page.screenshot(path=f"{output_path}/api-key-created.png", full_page=True)

    # Shown once: the list shows only the public start of the key from now on.
    page.get_by_role("navigation").get_by_role("link", name="API keys").click()
    expect(page.locator("#api-key-rows")).to_contain_text(prefix)
    assert key not in page.content()

    balance = requests.get(f"{live_server.url}/api/balance", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert balance.status_code == 200 and balance.json()["balance_cents"] == 0

    page.get_by_role("link", name="API documentation").click()
    expect(page.get_by_role("heading", name="Customer API")).to_be_visible()
    for path in ("/api/proxies", "/api/proxies/{resource_id}", "/api/orders", "/api/balance", "/api/ledger"):
        expect(page.locator(f"[data-path='{path}']").first).to_be_visible()
    page.screenshot(path=f"{output_path}/api-docs.png", full_page=True)
    assert not refused, refused

    # Revoked from the list: the key stops at once.
    page.go_back()
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    again = requests.get(f"{live_server.url}/api/balance", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert again.status_code == 401

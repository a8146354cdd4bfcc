"""Staff see a password changed in the provider's console as drift, and restore ours, in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect

from inventory.models import DriftItem, Resource
from inventory.sync import sync_account
from providers.registry import client_for_account
from tests.e2e.test_login_flow import sign_in
from tests.factories import ProviderAccountFactory


def test_staff_restore_our_password_after_it_was_changed_upstream(page, live_server, live_sandbox, support, alice):
    account = ProviderAccountFactory(
        name="Live Unknown Proxies", kind="unknownproxies", base_url=f"{live_sandbox}/unknownproxies/api/v1"
    )
    sync_account(account=account)
    token = Resource.objects.get(account=account, upstream_id="ispActive001")
    token.customer = alice.customer
    token.save(update_fields=["customer"])
    ours = token.upstream["password"]
    # Someone changes the password in the provider's console (its own API, over real HTTP); the beat syncs.
    upstream = client_for_account(account)
    upstream.modify_isp_token("ispActive001", password="Console123")
    sync_account(account=account)

    try:
        sign_in(page, live_server, "support")
        page.goto(f"{live_server.url}/staff/")
        tile = page.locator("#drift-tile")
        expect(tile).to_contain_text("1")
        tile.click()

        rows = page.locator("#drift-rows")
        expect(rows).to_contain_text("Alice Analytics Ltd")
        expect(rows).to_contain_text("[redacted]")
        expect(rows).not_to_contain_text("Console123")
        rows.get_by_role("link", name="Password").click()

        expect(page.locator("#drift-before")).to_have_text(ours)
        expect(page.locator("#drift-after")).to_have_text("Console123")
        page.get_by_role("button", name="Restore ours").click()

        expect(page.get_by_role("status")).to_contain_text("Restored: the password is ours again upstream.")
        expect(page.get_by_role("button", name="Restore ours")).to_have_count(0)
        assert upstream.get_isp_token("ispActive001").password == ours
        assert DriftItem.objects.get().state == DriftItem.State.RESTORED

        page.get_by_role("link", name="Drift queue").click()
        expect(page.locator("#drift-rows")).to_contain_text("Nothing here")
    finally:
        # The live sandbox outlives this test: leave the token as the demo made it.
        upstream.modify_isp_token("ispActive001", password=ours)

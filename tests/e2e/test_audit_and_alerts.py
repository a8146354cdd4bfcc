"""In a real browser: staff read the audit log and a customer's timeline; a customer reads a notification."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import expect

from billing.services import balance_top_up
from inventory.alerts import alerts_check
from inventory.assignment import resource_assign
from tests.e2e.test_login_flow import sign_in
from tests.factories import ResourceFactory


def test_staff_read_the_audit_log_and_a_customers_timeline(page, live_server, owner, support, customer_a, output_path):
    resource = ResourceFactory(label="alicetok")
    resource_assign(resource=resource, customer=customer_a, actor=support)
    balance_top_up(customer=customer_a, amount_cents=2500, actor=support, note="wire 77")

    sign_in(page, live_server, "owner")
    page.get_by_role("navigation").get_by_role("link", name="Audit").click()
    rows = page.locator("#audit-rows")
    expect(rows).to_contain_text("inventory.assign")
    expect(rows).to_contain_text("billing.ledger.top_up")
    page.get_by_label("Action").fill("inventory.")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_contain_text("inventory.assign")
    expect(rows).not_to_contain_text("billing.ledger.top_up")
    page.screenshot(path=Path(output_path) / "audit-log.png", full_page=True)

    page.get_by_role("navigation").get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="Alice Analytics Ltd").click()
    timeline = page.get_by_role("list", name="Timeline")
    expect(timeline).to_contain_text("Top-up 25.00")
    expect(timeline).to_contain_text("wire 77")
    expect(timeline).to_contain_text("inventory.assign")
    page.screenshot(path=Path(output_path) / "customer-timeline.png", full_page=True)


def test_a_customer_reads_what_we_sent_them(page, live_server, alice, customer_a, settings, output_path):
    settings.ALERT_EXPIRY_HORIZONS_DAYS = [7]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ResourceFactory(
        customer=customer_a, label="alicesoon", expires_at=timezone.now() + dt.timedelta(days=2), data_used_bytes=0
    )
    assert [alert.delivered_at is not None for alert in alerts_check()] == [True]

    sign_in(page, live_server, "alice")
    page.get_by_role("navigation").get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.locator("#notification-rows")).to_contain_text("alicesoon")
    expect(page.locator("#notification-rows")).to_contain_text("Expires soon")
    page.get_by_role("link", name="Open the proxy").click()
    expect(page.get_by_role("heading", name="alicesoon")).to_be_visible()
    page.screenshot(path=Path(output_path) / "portal-notification.png", full_page=True)

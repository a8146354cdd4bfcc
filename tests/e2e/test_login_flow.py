"""A customer signs in through a real browser and lands in the portal; staff land in the staff area."""

from __future__ import annotations

from pathlib import Path

from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.support.second_factor import app_code


def sign_in(page, live_server, username: str) -> None:
    """Password, then the second factor where the user needs one (staff set up their app on first sign-in)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    if "/accounts/2fa/verify/" in page.url:
        page.get_by_label("Code").fill(app_code(TOTPDevice.objects.get(user__username=username, confirmed=True)))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(lambda url: "/accounts/2fa/" not in url)
    elif "/accounts/2fa/" in page.url:
        page.get_by_label("Code from the app").fill(
            app_code(TOTPDevice.objects.get(user__username=username, confirmed=False))
        )
        page.get_by_role("button", name="Turn on").click()
        page.get_by_role("link", name="Continue").click()
        page.wait_for_url(lambda url: "/accounts/2fa/" not in url)


def test_a_customer_signs_in_and_sees_the_portal(page, live_server, alice, output_path):
    sign_in(page, live_server, "alice")
    expect(page).to_have_url(f"{live_server.url}/portal/")
    expect(page.get_by_role("heading", name="Welcome, Alice Analytics Ltd")).to_be_visible()
    expect(page.get_by_role("link", name="My proxies")).to_be_visible()
    expect(page.get_by_role("link", name="Customers")).to_have_count(0)
    screenshot = Path(output_path) / "portal.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 0


def test_a_wrong_password_shows_a_clear_message(page, live_server, alice):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")


def test_support_searches_customers_with_htmx(page, live_server, support, customer_a, customer_b):
    sign_in(page, live_server, "support")
    expect(page).to_have_url(f"{live_server.url}/staff/")
    page.get_by_role("navigation").get_by_role("link", name="Customers").click()
    page.get_by_label("Search customers").fill("bob")
    expect(page.locator("#customer-rows")).to_contain_text("Bob's Sneaker Bots")
    expect(page.locator("#customer-rows")).not_to_contain_text("Alice Analytics")


def test_a_customer_opens_a_proxy_and_reveals_its_password(page, live_server, alice):
    from tests.factories import ResourceFactory

    ResourceFactory(customer=alice.customer, label="alicetok")
    sign_in(page, live_server, "alice")
    page.get_by_role("link", name="alicetok").click()
    password = page.get_by_text("bkXBberMQ7", exact=True)
    proxy_list = page.get_by_label("Proxy list")
    expect(password).to_be_hidden()
    expect(proxy_list).to_be_hidden()
    page.get_by_text("Show", exact=True).click()
    expect(password).to_be_visible()
    page.get_by_text("Show proxy list").click()
    expect(proxy_list).to_have_value("resi.unknownproxies.com:8080:alicetok:bkXBberMQ7")

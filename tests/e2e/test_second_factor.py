"""Two-step sign-in in a real browser: a new staff member sets up an app from the QR page, signs out, signs in
with an app code, and once more with a recovery code."""

from __future__ import annotations

import base64
from pathlib import Path

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.support.second_factor import app_code


def password_step(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")


def code_from_secret(secret: str) -> str:
    """What an authenticator app computes from the key typed in by hand (the page's base32 text)."""
    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    return f"{TOTP(key, step=30, t0=0, digits=6).token():06d}"


def test_staff_enrol_then_sign_in_with_a_code_and_with_a_recovery_code(
    page, live_server, support, output_path, settings
):
    # The wait after a wrong code has its own test (test_second_factor.py); a wrong code counts against every
    # device, the recovery codes' included, so neither may make the next step wait here.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    password_step(page, live_server, "support")
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/?next=%2Faccounts%2Fhome%2F")
    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    page.screenshot(path=Path(output_path) / "second-factor-setup.png", full_page=True)

    # Enrol with the code an app would show for the key on the page.
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_label("Code from the app").fill(code_from_secret(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Two-step sign-in is on")).to_be_visible()
    codes = page.get_by_role("list", name="Recovery codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/staff/")
    sign_out(page)

    # A wrong code, then the app's code.
    password_step(page, live_server, "support")
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    page.get_by_label("Code").fill(app_code(TOTPDevice.objects.get(user=support, confirmed=True)))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{live_server.url}/staff/")
    sign_out(page)

    # Phone lost: a recovery code, once.
    password_step(page, live_server, "support")
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{live_server.url}/staff/")
    page.get_by_role("navigation").get_by_role("link", name="Security").click()
    expect(page.get_by_text("Recovery codes left: 9")).to_be_visible()
    page.screenshot(path=Path(output_path) / "second-factor-status.png", full_page=True)

"""A customer tops up online through the payment twin's hosted page and sees the credit."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from billing.services import customer_balance
from payments.models import Payment
from tests.e2e.test_login_flow import sign_in


def test_a_customer_tops_up_through_the_payment_page_and_sees_the_credit(
    page, live_server, live_sandbox, alice, settings, output_path
):
    # As an operator would in Stripe's dashboard: a webhook endpoint pointing at us, and its secret.
    endpoint = requests.post(
        f"{live_sandbox}/stripe/v1/webhook_endpoints",
        data={"url": f"{live_server.url}/payments/webhook/stripe/", "enabled_events[]": "*"},
        headers={"Authorization": "Bearer sk_test_e2e"},
        timeout=5,
    ).json()
    settings.STRIPE_SECRET_KEY = "sk_test_e2e"
    settings.STRIPE_WEBHOOK_SECRET = endpoint["secret"]
    settings.STRIPE_API_BASE = f"{live_sandbox}/stripe"

    sign_in(page, live_server, "alice")
    page.get_by_role("navigation").get_by_role("link", name="Shop").click()
    page.get_by_role("link", name="Top up").click()
    page.get_by_label("Amount").fill("30.00")
    page.get_by_role("button", name="Continue to payment").click()

    expect(page.get_by_text("Total 30.00 USD")).to_be_visible()
    page.get_by_role("button", name="Pay 30.00 USD").click()

    expect(page.get_by_role("status")).to_contain_text("Thank you: 30.00 USD was added to your balance.")
    page.screenshot(path=f"{output_path}/receipt.png", full_page=True)
    assert customer_balance(customer=alice.customer) == 3000
    assert Payment.objects.get().status == "paid"
    page.get_by_role("navigation").get_by_role("link", name="Shop").click()
    expect(page.get_by_text("30.00 USD", exact=True)).to_be_visible()


def test_a_customer_who_cancels_is_charged_nothing(page, live_server, live_sandbox, alice, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_e2e"
    settings.STRIPE_API_BASE = f"{live_sandbox}/stripe"

    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/portal/shop/top-up/")
    page.get_by_label("Amount").fill("12.00")
    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_role("button", name="Cancel").click()

    expect(page.get_by_role("status")).to_contain_text("The payment was cancelled: nothing was charged.")
    assert customer_balance(customer=alice.customer) == 0

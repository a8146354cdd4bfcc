"""The portal's top-up page and receipts, and the staff's payment pages."""

from __future__ import annotations

import pytest

from billing.services import customer_balance
from payments import services
from payments.models import Payment


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def test_it_sends_the_customer_to_the_payment_page(twin, alice_client, alice):
    response = alice_client.post("/portal/shop/top-up/", {"amount": "25.00"})

    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == payment.checkout_url
    assert payment.checkout_url.startswith("http://sandbox.test/stripe/checkout/cs_test_")
    assert (payment.amount_cents, payment.status, payment.customer) == (2500, "open", alice.customer)
    session = twin.stripe.sessions[payment.reference]
    assert session["success_url"] == f"http://testserver/portal/shop/payments/{payment.pk}/?checkout=done"
    assert session["customer_email"] == "alice@example.com"


def test_the_top_up_page_lets_its_form_go_to_the_payment_page(twin, alice_client):
    response = alice_client.get("/portal/shop/top-up/")

    assert response.status_code == 200
    assert "From 5.00 USD to 1,000.00 USD." in response.text
    form_action = next(part for part in response["Content-Security-Policy"].split(";") if "form-action" in part)
    assert "http://sandbox.test" in form_action


@pytest.mark.parametrize(
    ("amount", "message"),
    [("4.99", "The smallest top-up is 5.00 USD."), ("1000.01", "The largest top-up is 1,000.00 USD.")],
)
def test_it_refuses_an_amount_outside_the_limits_with_a_message(twin, alice_client, amount, message):
    response = alice_client.post("/portal/shop/top-up/", {"amount": amount})

    assert response.status_code == 400
    assert message in response.text
    assert not Payment.objects.exists()


def test_the_receipt_shows_the_credit_after_paying(twin, alice_client, alice):
    alice_client.post("/portal/shop/top-up/", {"amount": "25.00"})
    payment = Payment.objects.get()
    twin.pay(payment)

    response = alice_client.get(f"/portal/shop/payments/{payment.pk}/?checkout=done")

    assert response.status_code == 200
    assert "Thank you: 25.00 USD was added to your balance." in response.text
    assert "Online payment" in response.text
    assert payment.customer.name in response.text
    assert customer_balance(customer=alice.customer) == 2500
    assert f"Receipt {payment.pk}" in alice_client.get("/portal/shop/payments/").text


def test_the_receipt_says_when_the_confirmation_is_still_awaited(twin, alice_client):
    alice_client.post("/portal/shop/top-up/", {"amount": "25.00"})
    payment = Payment.objects.get()

    response = alice_client.get(f"/portal/shop/payments/{payment.pk}/?checkout=done")

    assert "waiting for the payment provider to confirm" in response.text


def test_a_customer_cannot_see_another_customers_payment(twin, client, alice, bob):
    payment = services.payment_open(customer=bob.customer, amount_cents=2000, actor=bob)
    client.force_login(alice)

    assert client.get(f"/portal/shop/payments/{payment.pk}/").status_code == 404
    assert f"Receipt {payment.pk}" not in client.get("/portal/shop/payments/").text


def test_staff_see_every_payment_and_each_customers_on_its_page(twin, open_payment, client, support, alice):
    twin.pay(open_payment)
    client.force_login(support)

    listing = client.get("/staff/billing/payments/")
    detail = client.get(f"/staff/billing/payments/{open_payment.pk}/")
    customer_page = client.get(f"/staff/customers/{alice.customer.pk}/")

    assert listing.status_code == 200
    assert alice.customer.name in listing.text
    assert open_payment.reference in listing.text
    assert "checkout.session.completed" in detail.text
    assert "credited 20.00 USD" in detail.text
    assert open_payment.reference in customer_page.text
    assert client.get("/staff/billing/payments/?status=expired").text.count(open_payment.reference) == 0


def test_customers_cannot_open_the_staff_payment_pages(twin, alice_client, open_payment):
    assert alice_client.get("/staff/billing/payments/").status_code == 403
    assert alice_client.get(f"/staff/billing/payments/{open_payment.pk}/").status_code == 403


def test_without_stripe_keys_the_portal_says_contact_us(settings, alice_client):
    settings.STRIPE_SECRET_KEY = ""

    catalog = alice_client.get("/portal/shop/")
    top_up = alice_client.get("/portal/shop/top-up/")

    assert "to top up, contact us" in catalog.text
    assert "/portal/shop/top-up/" not in catalog.text
    assert top_up.status_code == 302
    assert client_webhook_is_gone(alice_client)


def client_webhook_is_gone(client) -> bool:
    return client.post("/payments/webhook/stripe/", data="{}", content_type="application/json").status_code == 404


def test_with_stripe_keys_the_catalog_offers_top_up(twin, alice_client):
    assert "/portal/shop/top-up/" in alice_client.get("/portal/shop/").text

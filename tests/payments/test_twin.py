"""The payment twin keeps Stripe's outside shape: the real `stripe` library talks to it unchanged."""

from __future__ import annotations

import pytest
import requests
import stripe

from payments import services
from payments.models import Payment
from payments.sandbox import parse_form
from providers.sandbox.testing import SANDBOX_TEST_URL


@pytest.fixture
def stripe_client(twin):
    return stripe.StripeClient("sk_test_suite", base_addresses={"api": f"{SANDBOX_TEST_URL}/stripe"})


def test_a_session_reads_back_through_the_library(stripe_client, open_payment, twin):
    session = stripe_client.v1.checkout.sessions.retrieve(open_payment.reference)
    assert (session.status, session.payment_status, session.amount_total) == ("open", "unpaid", 2000)

    twin.pay(open_payment)

    session = stripe_client.v1.checkout.sessions.retrieve(open_payment.reference)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.payment_intent.startswith("pi_test_")


def test_it_answers_an_unknown_session_like_stripe(stripe_client):
    with pytest.raises(stripe.InvalidRequestError, match=r"No such checkout\.session"):
        stripe_client.v1.checkout.sessions.retrieve("cs_test_missing")


def test_a_live_key_is_refused_and_no_page_opens(twin, settings, alice):
    settings.STRIPE_SECRET_KEY = "sk_live_not_for_the_twin"
    payment = services.payment_open(customer=alice.customer, amount_cents=2000, actor=alice)

    with pytest.raises(services.PaymentRefused):
        services.payment_checkout(payment=payment, success_url="http://testserver/a", cancel_url="http://testserver/b")
    assert "Invalid API Key" in Payment.objects.get(pk=payment.pk).error


def test_the_hosted_page_shows_the_amount_with_pay_and_cancel(open_payment, twin):
    page = requests.get(open_payment.checkout_url, timeout=5).text
    assert "Total 20.00 USD" in page
    assert "Pay 20.00 USD" in page and ">Cancel</button>" in page

    cancelled = requests.post(f"{open_payment.checkout_url}/cancel", allow_redirects=False, timeout=5)
    assert cancelled.headers["Location"] == "http://testserver/cancel"
    assert twin.stripe.sessions[open_payment.reference]["status"] == "open"


def test_it_refuses_a_refund_larger_than_what_is_left(open_payment, twin):
    twin.pay(open_payment)
    twin.refund(open_payment, amount_cents=1500)
    with pytest.raises(requests.HTTPError):
        twin.refund(open_payment, amount_cents=600)


def test_it_reads_stripes_form_encoding():
    pairs = [
        ("line_items[0][price_data][unit_amount]", "900"),
        ("line_items[0][quantity]", "1"),
        ("metadata[payment]", "7"),
        ("enabled_events[]", "a"),
        ("enabled_events[]", "b"),
        ("mode", "payment"),
    ]
    assert parse_form(pairs) == {
        "line_items": [{"price_data": {"unit_amount": "900"}, "quantity": "1"}],
        "metadata": {"payment": "7"},
        "enabled_events": ["a", "b"],
        "mode": "payment",
    }

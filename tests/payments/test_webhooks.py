"""The balance moves only on a verified webhook, once per fact, however often the event comes."""

from __future__ import annotations

import json

import pytest

from billing.models import LedgerEntry
from billing.services import customer_balance
from payments import services
from payments.models import Payment, PaymentEvent
from payments.sandbox import sign
from tests.payments.conftest import WEBHOOK_SECRET


def _kinds(customer) -> list[tuple[str, int]]:
    return list(LedgerEntry.objects.filter(customer=customer).order_by("id").values_list("kind", "amount_cents"))


def test_it_credits_the_balance_when_the_customer_pays(twin, open_payment, alice):
    answer = twin.pay(open_payment)

    assert answer.status_code == 303
    assert answer.headers["Location"] == "http://testserver/done"
    assert twin.deliveries == [200]
    assert customer_balance(customer=alice.customer) == 2000
    payment = Payment.objects.get(pk=open_payment.pk)
    assert payment.status == "paid"
    assert payment.paid_cents == 2000
    assert payment.payment_ref.startswith("pi_")


def test_it_sends_stripe_the_amount_and_our_reference(twin, open_payment):
    session = twin.stripe.sessions[open_payment.reference]

    assert session["amount_total"] == 2000
    assert session["currency"] == "usd"
    assert session["metadata"] == {"payment": str(open_payment.pk)}
    assert session["client_reference_id"] == str(open_payment.pk)
    create = twin.sandbox.calls("POST", "/v1/checkout/sessions")[0].request
    assert create.headers["Idempotency-Key"] == f"payment-{open_payment.pk}"
    assert "line_items[0][price_data][unit_amount]=2000" in create.body


def test_a_webhook_delivered_twice_credits_once(twin, open_payment, alice):
    twin.pay(open_payment)
    event_id = twin.stripe.deliveries[0]["event"]

    twin.control(f"events/{event_id}/redeliver")
    twin.control(f"events/{event_id}/redeliver")

    assert twin.deliveries == [200, 200, 200]
    assert _kinds(alice.customer) == [("payment", 2000)]
    assert PaymentEvent.objects.filter(event_id=event_id).count() == 1


def test_two_events_for_one_payment_credit_once(twin, open_payment, alice):
    """checkout.session.completed and async_payment_succeeded both say "paid": one ledger reference."""
    twin.pay(open_payment)
    session = twin.stripe.sessions[open_payment.reference]
    twin.stripe._emit("checkout.session.async_payment_succeeded", twin.stripe._public(session))
    twin.stripe.after_request()

    assert twin.deliveries == [200, 200]
    assert _kinds(alice.customer) == [("payment", 2000)]


def test_a_bad_signature_is_refused_and_credits_nothing(twin, open_payment, client, alice):
    session = twin.stripe.sessions[open_payment.reference]
    event = {
        "id": "evt_forged",
        "object": "event",
        "type": "checkout.session.completed",
        "data": {"object": {**twin.stripe._public(session), "payment_status": "paid", "payment_intent": "pi_x"}},
    }
    payload = json.dumps(event)

    forged = client.post(
        "/payments/webhook/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, "whsec_not_ours")},
    )
    unsigned = client.post("/payments/webhook/stripe/", data=payload, content_type="application/json")
    stale = client.post(
        "/payments/webhook/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, WEBHOOK_SECRET, timestamp=1_000_000_000)},
    )

    assert (forged.status_code, unsigned.status_code, stale.status_code) == (400, 400, 400)
    assert customer_balance(customer=alice.customer) == 0
    assert not PaymentEvent.objects.exists()
    assert Payment.objects.get(pk=open_payment.pk).status == "open"


def test_it_refuses_get_on_the_webhook(client, twin):
    assert client.get("/payments/webhook/stripe/").status_code == 405


def test_a_refund_at_stripe_becomes_a_ledger_entry(twin, open_payment, alice):
    twin.pay(open_payment)

    twin.refund(open_payment, amount_cents=500)
    twin.refund(open_payment)

    assert _kinds(alice.customer) == [("payment", 2000), ("payment_refund", -500), ("payment_refund", -1500)]
    assert Payment.objects.get(pk=open_payment.pk).refunded_cents == 2000
    assert customer_balance(customer=alice.customer) == 0


def test_a_refund_redelivered_or_late_is_booked_once(twin, open_payment, alice):
    twin.pay(open_payment)
    twin.refund(open_payment, amount_cents=500)
    first_refund = next(d["event"] for d in twin.stripe.deliveries if d["type"] == "charge.refunded")
    twin.refund(open_payment, amount_cents=700)

    twin.control(f"events/{first_refund}/redeliver")

    assert _kinds(alice.customer) == [("payment", 2000), ("payment_refund", -500), ("payment_refund", -700)]


def test_a_refund_after_the_money_was_spent_leaves_a_debt(twin, open_payment, alice):
    from billing.services import balance_adjust
    from tests.factories import UserFactory

    twin.pay(open_payment)
    owner = UserFactory(role="owner")
    balance_adjust(customer=alice.customer, amount_cents=-1500, actor=owner, note="spent")

    twin.refund(open_payment)

    assert customer_balance(customer=alice.customer) == -1500


@pytest.mark.parametrize(
    ("outcome", "balance", "kinds"),
    [
        ("won", 2000, [("payment", 2000), ("chargeback", -2000), ("chargeback_reversal", 2000)]),
        ("lost", 0, [("payment", 2000), ("chargeback", -2000)]),
    ],
)
def test_a_dispute_takes_the_money_and_a_win_gives_it_back(twin, open_payment, alice, outcome, balance, kinds):
    twin.pay(open_payment)
    open_payment.refresh_from_db()

    dispute = twin.control("disputes", {"payment_intent": open_payment.payment_ref})
    assert customer_balance(customer=alice.customer) == 0
    assert Payment.objects.get(pk=open_payment.pk).dispute_status == "open"
    twin.control(f"disputes/{dispute['id']}/close", {"status": outcome})

    assert _kinds(alice.customer) == kinds
    assert customer_balance(customer=alice.customer) == balance
    assert Payment.objects.get(pk=open_payment.pk).dispute_status == outcome


def test_an_expired_checkout_credits_nothing(twin, open_payment, alice):
    import requests

    requests.post(
        f"http://sandbox.test/stripe/v1/checkout/sessions/{open_payment.reference}/expire",
        headers={"Authorization": "Bearer sk_test_suite"},
        timeout=5,
    ).raise_for_status()

    assert Payment.objects.get(pk=open_payment.pk).status == "expired"
    assert customer_balance(customer=alice.customer) == 0
    assert twin.pay(open_payment).status_code == 200  # the page says it is expired; nothing is paid
    assert customer_balance(customer=alice.customer) == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (499, "The smallest top-up is 5.00 USD."),
        (100_001, "The largest top-up is 1,000.00 USD. For more, please contact us."),
    ],
)
def test_it_refuses_amounts_outside_the_limits(twin, alice, amount, message):
    with pytest.raises(services.PaymentRefused, match=message):
        services.payment_open(customer=alice.customer, amount_cents=amount, actor=alice)
    assert not Payment.objects.exists()


def test_it_refuses_when_online_top_up_is_not_configured(settings, alice):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(services.PaymentRefused, match="contact us"):
        services.payment_open(customer=alice.customer, amount_cents=2000, actor=alice)


def test_a_gateway_failure_opens_no_page_and_charges_nothing(twin, alice):
    twin.sandbox.control("faults", {"rules": [{"provider": "stripe", "kind": "status", "status": 500, "times": 5}]})
    payment = services.payment_open(customer=alice.customer, amount_cents=2000, actor=alice)

    with pytest.raises(services.PaymentRefused, match="could not be opened"):
        services.payment_checkout(payment=payment, success_url="http://testserver/a", cancel_url="http://testserver/b")
    assert Payment.objects.get(pk=payment.pk).status == "failed"

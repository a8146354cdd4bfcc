"""The payment twin behind `responses`, with its webhooks delivered into our endpoint through Django's test client."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests
from django.test import Client

from payments import services
from payments.models import Payment
from providers.sandbox import SandboxApp
from providers.sandbox.testing import SANDBOX_TEST_URL, InstalledSandbox, sandbox_behind_responses

WEBHOOK_URL = "http://testserver/payments/webhook/stripe/"
WEBHOOK_SECRET = "whsec_test_for_the_suite"


@dataclass
class Twin:
    sandbox: InstalledSandbox
    deliveries: list

    def pay(self, payment: Payment) -> requests.Response:
        """Press Pay on the hosted page, as the customer would."""
        payment.refresh_from_db()
        return requests.post(f"{payment.checkout_url}/pay", allow_redirects=False, timeout=5)

    def control(self, path: str, body: dict | None = None) -> dict:
        response = requests.post(f"{SANDBOX_TEST_URL}/stripe/_twin/{path}", json=body or {}, timeout=5)
        response.raise_for_status()
        return response.json()

    def refund(self, payment: Payment, amount_cents: int | None = None) -> dict:
        """A refund made at Stripe (`POST /v1/refunds`, as the dashboard does)."""
        payment.refresh_from_db()
        data = {"payment_intent": payment.payment_ref}
        if amount_cents is not None:
            data["amount"] = str(amount_cents)
        response = requests.post(
            f"{SANDBOX_TEST_URL}/stripe/v1/refunds",
            data=data,
            headers={"Authorization": "Bearer sk_test_suite"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    @property
    def stripe(self):
        return self.sandbox.app.provider("stripe")


@pytest.fixture
def twin(settings, db):
    settings.STRIPE_SECRET_KEY = "sk_test_suite"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = f"{SANDBOX_TEST_URL}/stripe"
    app = SandboxApp(seed=1, stripe_webhook_url=WEBHOOK_URL, stripe_webhook_secret=WEBHOOK_SECRET)
    deliveries: list = []
    webhook_client = Client()

    def deliver(request):
        answer = webhook_client.post(
            "/payments/webhook/stripe/",
            data=request.body,
            content_type="application/json",
            headers={"Stripe-Signature": request.headers.get("Stripe-Signature", "")},
        )
        deliveries.append(answer.status_code)
        return answer.status_code, {}, answer.content

    with sandbox_behind_responses(app) as installed:
        installed.mock.add_callback("POST", WEBHOOK_URL, callback=deliver)
        yield Twin(sandbox=installed, deliveries=deliveries)


@pytest.fixture
def open_payment(twin, alice):
    """Alice has started a 20.00 top-up and is on the twin's payment page."""
    payment = services.payment_open(customer=alice.customer, amount_cents=2000, actor=alice)
    return services.payment_checkout(
        payment=payment, success_url="http://testserver/done", cancel_url="http://testserver/cancel"
    )

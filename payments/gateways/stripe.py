"""Stripe Checkout behind the gateway interface, through the `stripe` library (its base address is
configurable, so the demo and the tests reach the sandbox's payment twin instead of Stripe)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import stripe

from payments.gateways.base import Checkout, EventKind, GatewayError, GatewayEvent, InvalidWebhook

STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"
# Stripe's client waits 80 s by default; the top-up request waits for this call, so keep it short.
TIMEOUT_SECONDS = 20


class StripeGateway:
    name = "stripe"

    def __init__(self, *, secret_key: str, webhook_secret: str, api_base: str = "") -> None:
        self.webhook_secret = webhook_secret
        options = {"base_addresses": {"api": api_base.rstrip("/")}} if api_base else {}
        self.client = stripe.StripeClient(
            secret_key,
            max_network_retries=0,  # creating a session is safe to retry by hand; never blindly here
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
            **options,
        )
        # Stripe's hosted page, or the twin's (served beside its API).
        self.checkout_origin = _origin(api_base) if api_base else STRIPE_CHECKOUT_ORIGIN

    def create_checkout(
        self,
        *,
        payment_id: int,
        amount_cents: int,
        currency: str,
        description: str,
        customer_email: str,
        success_url: str,
        cancel_url: str,
    ) -> Checkout:
        """`POST /v1/checkout/sessions` (mode=payment, one line item at our amount)."""
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": amount_cents,
                        "product_data": {"name": description},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": str(payment_id),
            "metadata": {"payment": str(payment_id)},
        }
        if customer_email:
            params["customer_email"] = customer_email
        try:
            # The payment id as idempotency key: a retried request never opens a second session.
            session = self.client.v1.checkout.sessions.create(
                params, options={"idempotency_key": f"payment-{payment_id}"}
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused to start the checkout: {exc.user_message or exc}") from exc
        return Checkout(reference=session.id, url=session.url)

    def parse_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        try:
            event = stripe.Webhook.construct_event(payload, headers.get("Stripe-Signature"), self.webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise InvalidWebhook(str(exc)) from exc
        data = event.data.object.to_dict()
        return _normalise(event.id, event.type, data)


def _normalise(event_id: str, event_type: str, obj: dict) -> GatewayEvent:
    def make(kind: EventKind, **fields) -> GatewayEvent:
        return GatewayEvent(id=event_id, type=event_type, kind=kind, raw=obj, **fields)

    currency = str(obj.get("currency") or "").upper()
    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") != "paid":
            # Completed but not paid yet (a delayed payment method): async_payment_succeeded follows.
            return make(EventKind.IGNORED, reference=obj["id"])
        return make(
            EventKind.PAID,
            reference=obj["id"],
            payment_ref=str(obj.get("payment_intent") or ""),
            amount_cents=int(obj["amount_total"]),
            currency=currency,
        )
    if event_type in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        return make(EventKind.EXPIRED, reference=obj["id"])
    if event_type == "charge.refunded":
        # The charge carries the total refunded so far: booking the difference is right in any order.
        return make(
            EventKind.REFUNDED,
            payment_ref=str(obj.get("payment_intent") or ""),
            amount_cents=int(obj["amount_refunded"]),
            currency=currency,
        )
    if event_type == "charge.dispute.created":
        return make(
            EventKind.DISPUTE_OPENED,
            payment_ref=str(obj.get("payment_intent") or ""),
            amount_cents=int(obj["amount"]),
            currency=currency,
            dispute=obj["id"],
        )
    if event_type == "charge.dispute.closed":
        kind = {"won": EventKind.DISPUTE_WON, "lost": EventKind.DISPUTE_LOST}.get(obj.get("status"), EventKind.IGNORED)
        return make(
            kind,
            payment_ref=str(obj.get("payment_intent") or ""),
            amount_cents=int(obj["amount"]),
            currency=currency,
            dispute=obj["id"],
        )
    # refund.* events repeat what charge.refunded books (its running total); others are not ours to book.
    return make(EventKind.IGNORED)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"

"""The configured payment gateway: Stripe when its keys are set, none otherwise (online top-up hidden)."""

from __future__ import annotations

from django.conf import settings

from payments.gateways.base import Gateway


def configured(name: str = "stripe") -> Gateway | None:
    """The gateway called `name`, or None when it is not configured."""
    if name == "stripe" and settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET:
        from payments.gateways.stripe import StripeGateway

        return StripeGateway(
            secret_key=settings.STRIPE_SECRET_KEY,
            webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
            api_base=settings.STRIPE_API_BASE,
        )
    return None

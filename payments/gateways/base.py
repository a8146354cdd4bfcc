"""The one small interface every payment provider implements: start a checkout, read a webhook.

A gateway turns its provider's webhook into `GatewayEvent`s of a few normalised kinds, so the
payment services never read a provider's payload; a crypto gateway is one more implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class GatewayError(Exception):
    """The provider refused or could not be reached; the message is fit for staff and logs."""


class InvalidWebhook(Exception):
    """The request is not a genuine webhook of this provider (bad signature, stale, unreadable)."""


@dataclass(frozen=True)
class Checkout:
    """A started payment: the provider's reference and the page the customer pays on."""

    reference: str
    url: str


class EventKind(StrEnum):
    PAID = "paid"  # `amount_cents` was paid for the checkout `reference`
    EXPIRED = "expired"  # the checkout `reference` can no longer be paid
    REFUNDED = "refunded"  # `amount_cents` is the total refunded so far of the payment `payment_ref`
    DISPUTE_OPENED = "dispute_opened"  # `amount_cents` was taken back by the dispute `dispute`
    DISPUTE_WON = "dispute_won"  # the dispute's `amount_cents` came back to us
    DISPUTE_LOST = "dispute_lost"  # the dispute's money stays gone
    IGNORED = "ignored"  # genuine, but nothing we book


@dataclass(frozen=True)
class GatewayEvent:
    id: str  # the provider's event id: one event is handled once
    type: str  # the provider's own name of the event, kept for staff
    kind: EventKind
    reference: str = ""  # the checkout (PAID, EXPIRED)
    payment_ref: str = ""  # the provider's id of the money movement, which later events name
    amount_cents: int = 0
    currency: str = ""
    dispute: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class Gateway(Protocol):
    name: str
    # The origin of the payment page: our top-up form's CSP `form-action` must allow its redirect there.
    checkout_origin: str

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
    ) -> Checkout: ...

    def parse_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """A verified, normalised event; raises InvalidWebhook for anything not genuine."""
        ...

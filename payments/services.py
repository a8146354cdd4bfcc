"""Online top-up: open a payment, send the customer to the gateway's page, book what its webhook says.

Rules held here:
- the balance moves only on a verified webhook, never on the customer's return to our page;
- each gateway event is handled once (a unique row per event id), and each booking has its own
  ledger reference (the checkout, the running refund total, the dispute), so a redelivered event or
  two events for one fact (completed and async-succeeded) still book it once;
- refunds and lost disputes are booked even when the money was already spent (the balance shows the debt).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer, User
from billing import services as billing
from billing.models import LedgerEntry, LedgerEntryKind, format_money
from notifications.services import notify
from ops import audit
from payments import gateways
from payments.gateways.base import EventKind, GatewayError, GatewayEvent
from payments.models import DisputeStatus, Payment, PaymentEvent, PaymentStatus

logger = logging.getLogger(__name__)


class PaymentRefused(Exception):
    """A top-up rule refused the request; the message is fit to show the customer."""


def top_up_limits() -> tuple[int, int]:
    """The smallest and largest online top-up, in minor units."""
    return settings.STRIPE_TOPUP_MIN_CENTS, settings.STRIPE_TOPUP_MAX_CENTS


def payment_open(*, customer: Customer, amount_cents: int, actor: User | None, gateway: str = "stripe") -> Payment:
    """Record a top-up the customer is about to pay; refuses amounts outside the limits."""
    if gateways.configured(gateway) is None:
        raise PaymentRefused("Online top-up is not available. Please contact us to top up.")
    if not customer.is_active:
        raise PaymentRefused("This account is suspended: it cannot top up. Please contact support.")
    low, high = top_up_limits()
    if amount_cents < low:
        raise PaymentRefused(f"The smallest top-up is {format_money(low)}.")
    if amount_cents > high:
        raise PaymentRefused(f"The largest top-up is {format_money(high)}. For more, please contact us.")
    payment = Payment.objects.create(
        customer=customer,
        gateway=gateway,
        amount_cents=amount_cents,
        currency=settings.CURRENCY,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    audit.record(
        action="payments.payment.open",
        actor=actor,
        target=payment,
        customer=customer,
        data={"amount_cents": amount_cents},
    )
    return payment


def payment_checkout(*, payment: Payment, success_url: str, cancel_url: str, customer_email: str = "") -> Payment:
    """Start the gateway's checkout for an open payment; the payment keeps the page to send the customer to."""
    gateway = gateways.configured(payment.gateway)
    if gateway is None:
        raise PaymentRefused("Online top-up is not available. Please contact us to top up.")
    try:
        checkout = gateway.create_checkout(
            payment_id=payment.pk,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            description=f"Balance top-up for {payment.customer.name}",
            customer_email=customer_email,
            success_url=success_url,
            cancel_url=cancel_url,
        )
    except GatewayError as exc:
        logger.warning("payment %s: %s", payment.pk, exc)
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.FAILED, error=str(exc)[:2000])
        raise PaymentRefused("The payment page could not be opened. Nothing was charged; please try again.") from exc
    Payment.objects.filter(pk=payment.pk).update(
        reference=checkout.reference, checkout_url=checkout.url, status=PaymentStatus.OPEN
    )
    payment.refresh_from_db()
    return payment


def payment_event_handle(*, gateway: str, event: GatewayEvent) -> str:
    """Book one verified gateway event at most once; returns what was done (kept on the event row)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = PaymentEvent.objects.create(gateway=gateway, event_id=event.id, type=event.type)
        except IntegrityError:
            return "duplicate: already handled"
        payment = _payment_for(gateway, event)
        if payment is None:
            outcome = "ignored" if event.kind == EventKind.IGNORED else "no payment of ours matches"
        else:
            outcome = _apply(payment, event)
        row.payment = payment
        row.outcome = outcome[:300]
        row.save(update_fields=["payment", "outcome"])
    if payment is not None and event.kind != EventKind.IGNORED:
        logger.info("payment %s: %s %s -> %s", payment.pk, gateway, event.type, outcome)
    return outcome


def _payment_for(gateway: str, event: GatewayEvent) -> Payment | None:
    payments = Payment.objects.select_for_update().select_related("customer").filter(gateway=gateway)
    if event.kind in (EventKind.PAID, EventKind.EXPIRED):
        return payments.filter(reference=event.reference).first() if event.reference else None
    if event.kind == EventKind.IGNORED:
        return None
    return payments.filter(payment_ref=event.payment_ref).first() if event.payment_ref else None


def _apply(payment: Payment, event: GatewayEvent) -> str:
    ref = f"{payment.gateway}:{payment.pk}"
    if event.currency and event.kind != EventKind.EXPIRED and event.currency != payment.currency:
        audit.record(
            action="payments.payment.currency_mismatch",
            actor=None,
            target=payment,
            customer=payment.customer,
            data={"event": event.id, "currency": event.currency, "amount_cents": event.amount_cents},
        )
        return f"not booked: paid in {event.currency}, the balance is in {payment.currency} (staff to settle)"
    if event.kind == EventKind.PAID:
        entry, new = billing.balance_book_outside(
            customer=payment.customer,
            amount_cents=event.amount_cents,
            kind=LedgerEntryKind.PAYMENT,
            reference=f"{ref}:paid",
            note=f"Online payment {payment.pk}",
        )
        if payment.status != PaymentStatus.PAID:
            payment.status = PaymentStatus.PAID
            payment.paid_cents = event.amount_cents
            payment.payment_ref = event.payment_ref
            payment.paid_at = timezone.now()
            payment.save(update_fields=["status", "paid_cents", "payment_ref", "paid_at", "updated_at"])
        if new:
            notify(
                customer=payment.customer,
                event="payment.credited",
                subject=f"Top-up credited: {entry.amount}",
                body=f"Your online payment {payment.pk} of {entry.amount} was added to your balance.",
                link=reverse("store:payment-detail", args=[payment.pk]),
                key=f"payment:{payment.pk}:paid",
                data={"payment": payment.pk, "amount_cents": event.amount_cents, "currency": payment.currency},
            )
        return f"credited {entry.amount}" if new else "already credited"
    if event.kind == EventKind.EXPIRED:
        if payment.status == PaymentStatus.OPEN:
            payment.status = PaymentStatus.EXPIRED
            payment.save(update_fields=["status", "updated_at"])
        return "expired"
    if event.kind == EventKind.REFUNDED:
        more = event.amount_cents - payment.refunded_cents
        if more <= 0:
            return "refund already booked"
        entry, _ = billing.balance_book_outside(
            customer=payment.customer,
            amount_cents=more,
            kind=LedgerEntryKind.PAYMENT_REFUND,
            reference=f"{ref}:refunded-to:{event.amount_cents}",
            note=f"Online payment {payment.pk} refunded",
        )
        payment.refunded_cents = event.amount_cents
        payment.save(update_fields=["refunded_cents", "updated_at"])
        return f"refund booked {entry.amount}"
    if event.kind == EventKind.DISPUTE_OPENED:
        entry, new = billing.balance_book_outside(
            customer=payment.customer,
            amount_cents=event.amount_cents,
            kind=LedgerEntryKind.CHARGEBACK,
            reference=f"{ref}:dispute:{event.dispute}",
            note=f"Online payment {payment.pk} disputed",
        )
        payment.dispute_status = DisputeStatus.OPEN
        payment.save(update_fields=["dispute_status", "updated_at"])
        return f"dispute booked {entry.amount}" if new else "dispute already booked"
    if event.kind == EventKind.DISPUTE_WON:
        entry, new = billing.balance_book_outside(
            customer=payment.customer,
            amount_cents=event.amount_cents,
            kind=LedgerEntryKind.CHARGEBACK_REVERSAL,
            reference=f"{ref}:dispute-won:{event.dispute}",
            note=f"Online payment {payment.pk}: dispute won",
        )
        payment.dispute_status = DisputeStatus.WON
        payment.save(update_fields=["dispute_status", "updated_at"])
        return f"dispute won, credited {entry.amount}" if new else "dispute win already booked"
    if event.kind == EventKind.DISPUTE_LOST:
        payment.dispute_status = DisputeStatus.LOST
        payment.save(update_fields=["dispute_status", "updated_at"])
        return "dispute lost (the money was taken when it opened)"
    return "ignored"


def payments_for_customer(*, customer: Customer):
    return Payment.objects.filter(customer=customer).order_by("-created_at", "-id")


def payments_for_staff(*, status: str = ""):
    payments = Payment.objects.select_related("customer")
    if status:
        payments = payments.filter(status=status)
    return payments.order_by("-created_at", "-id")


def online_top_up_available() -> bool:
    return gateways.configured() is not None


def ledger_entries_for(payment: Payment):
    """The ledger entries this payment booked (by their reference)."""
    return LedgerEntry.objects.filter(reference__startswith=f"{payment.gateway}:{payment.pk}:").order_by(
        "created_at", "id"
    )

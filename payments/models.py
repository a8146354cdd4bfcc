"""Online payments: one row per checkout a customer starts, and every webhook event we handled."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ops.units import format_money


class PaymentStatus(models.TextChoices):
    CREATED = "created", "Created"
    OPEN = "open", "Waiting for payment"
    PAID = "paid", "Paid"
    EXPIRED = "expired", "Expired (not paid)"
    FAILED = "failed", "Could not start"


class DisputeStatus(models.TextChoices):
    NONE = "", "None"
    OPEN = "open", "Disputed"
    WON = "won", "Dispute won"
    LOST = "lost", "Dispute lost"


class Payment(models.Model):
    """A top-up paid at a payment gateway; the balance is credited by the gateway's verified webhook."""

    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(max_length=20)
    reference = models.CharField(max_length=255, blank=True, help_text="The gateway's checkout id.")
    payment_ref = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="The gateway's id of the money (e.g. a payment intent)."
    )
    amount_cents = models.BigIntegerField(help_text="What the customer asked to pay, in minor units.")
    paid_cents = models.BigIntegerField(default=0, help_text="What the gateway says was paid.")
    refunded_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.CREATED)
    dispute_status = models.CharField(max_length=10, choices=DisputeStatus.choices, blank=True, default="")
    checkout_url = models.URLField(max_length=1000, blank=True)
    error = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "reference"], condition=~Q(reference=""), name="one_payment_per_checkout"
            ),
            models.CheckConstraint(name="payment_amount_positive", condition=Q(amount_cents__gt=0)),
            models.CheckConstraint(name="payment_status_known", condition=Q(status__in=PaymentStatus.values)),
        ]
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"payment {self.pk} {self.amount} ({self.get_status_display()})"

    @property
    def amount(self) -> str:
        return format_money(self.amount_cents)

    @property
    def paid(self) -> str:
        return format_money(self.paid_cents)

    @property
    def refunded(self) -> str:
        return format_money(self.refunded_cents)

    @property
    def badge(self) -> str:
        """The CSS badge colour of the status (reusing the resource status badges)."""
        if self.dispute_status in (DisputeStatus.OPEN, DisputeStatus.LOST) or self.refunded_cents:
            return "expired"
        return {PaymentStatus.PAID: "active", PaymentStatus.EXPIRED: "expired", PaymentStatus.FAILED: "expired"}.get(
            self.status, "processing"
        )


class PaymentEvent(models.Model):
    """A gateway's webhook event we handled: the unique id makes a redelivery a no-op."""

    gateway = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    outcome = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["gateway", "event_id"], name="one_row_per_gateway_event")]

    def __str__(self) -> str:
        return f"{self.gateway} {self.type} {self.event_id}"

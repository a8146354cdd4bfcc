"""What we sell and for how much, the orders customers place, and the append-only ledger of their money."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ops.units import format_money
from providers import registry

__all__ = ["format_money"]  # re-exported: billing callers format with the one formatter


class Product(models.Model):
    """One thing in our catalog: which upstream call fulfils it, with what parameters, and our prices.

    `kind` is one an integration registers; `parameters` are that integration's (see its `product_parameters`).
    """

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=registry.product_kind_choices)
    account = models.ForeignKey("providers.ProviderAccount", on_delete=models.PROTECT, related_name="products")
    parameters = models.JSONField(default=dict)
    price_cents = models.IntegerField(help_text="Our retail price, in minor units.")
    renewal_price_cents = models.IntegerField(help_text="Our price for one renewal, in minor units.")
    active = models.BooleanField(default=True, help_text="Shown and sold in the portal.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(name="product_price_not_negative", condition=Q(price_cents__gte=0)),
            models.CheckConstraint(name="product_renewal_price_not_negative", condition=Q(renewal_price_cents__gte=0)),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def price(self) -> str:
        return format_money(self.price_cents)

    @property
    def renewal_price(self) -> str:
        return format_money(self.renewal_price_cents)

    @property
    def summary(self) -> str:
        return registry.for_product_kind(self.kind).product_summary(self)


class OrderKind(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    RENEWAL = "renewal", "Renewal"


class OrderState(models.TextChoices):
    PENDING = "pending", "Pending"
    SUBMITTED = "submitted", "Submitted upstream"
    FULFILLED = "fulfilled", "Fulfilled"
    FAILED = "failed", "Failed (refunded)"
    UNKNOWN = "unknown", "Unknown outcome (money held)"


# The state machine. unknown -> fulfilled|failed is the reconciliation (it also sets `reconciled_at`).
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderState.PENDING: frozenset({OrderState.SUBMITTED, OrderState.FAILED}),
    OrderState.SUBMITTED: frozenset({OrderState.FULFILLED, OrderState.FAILED, OrderState.UNKNOWN}),
    OrderState.UNKNOWN: frozenset({OrderState.FULFILLED, OrderState.FAILED}),
    OrderState.FULFILLED: frozenset(),
    OrderState.FAILED: frozenset(),
}


class IllegalTransition(Exception):
    """An order was asked to move to a state its current state does not lead to."""


class Order(models.Model):
    """One purchase or renewal, charged when placed and settled by the upstream answer or by reconciliation."""

    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="orders")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=20, choices=OrderKind.choices, default=OrderKind.PURCHASE)
    resource = models.ForeignKey(
        "inventory.Resource",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        help_text="The renewal target, or the resource the purchase created.",
    )
    quantity = models.PositiveIntegerField(default=1)
    price_cents = models.IntegerField(help_text="What the customer was charged, in minor units.")
    idempotency_key = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=20, choices=OrderState.choices, default=OrderState.PENDING)
    request = models.JSONField(
        default=dict, blank=True, help_text="What we sent upstream, stored before sending (never a secret)."
    )
    upstream_ref = models.CharField(max_length=500, blank=True, help_text="e.g. the subscription ids or the token.")
    error = models.TextField(blank=True, help_text="For staff: what went wrong upstream and what to do.")
    error_code = models.CharField(max_length=30, blank=True, help_text="What the customer is told (see services).")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    reconciled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="order_price_not_negative", condition=Q(price_cents__gte=0)),
            models.CheckConstraint(name="order_quantity_positive", condition=Q(quantity__gte=1)),
            models.CheckConstraint(name="order_state_known", condition=Q(state__in=OrderState.values)),
            models.CheckConstraint(name="order_kind_known", condition=Q(kind__in=OrderKind.values)),
            models.CheckConstraint(
                name="order_renewal_has_a_target", condition=Q(kind="purchase") | Q(resource__isnull=False)
            ),
        ]
        indexes = [
            models.Index(fields=["state", "submitted_at"]),
            models.Index(fields=["customer", "-created_at"]),
            # The staff order list seeks on (created_at, id), with or without a state filter.
            models.Index(fields=["created_at", "id"], name="order_created_seek"),
            models.Index(fields=["state", "created_at", "id"], name="order_state_created_seek"),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} {self.kind} {self.product} ({self.state})"

    @property
    def price(self) -> str:
        return format_money(self.price_cents)

    @property
    def badge(self) -> str:
        """The CSS badge colour of the state (reusing the resource status badges)."""
        return {OrderState.FULFILLED: "active", OrderState.FAILED: "expired"}.get(self.state, "processing")

    @property
    def is_settled(self) -> bool:
        return self.state in (OrderState.FULFILLED, OrderState.FAILED)

    def can_transition(self, state: str) -> bool:
        return state in TRANSITIONS[self.state]

    def transition(self, state: str) -> None:
        """Move to `state` in memory (the caller saves); refuses any move the state machine does not allow."""
        if not self.can_transition(state):
            raise IllegalTransition(f"order {self.pk} cannot go from {self.state} to {state}")
        self.state = state


class LedgerEntryKind(models.TextChoices):
    TOP_UP = "top_up", "Top-up"
    PURCHASE = "purchase", "Purchase"
    RENEWAL = "renewal", "Renewal"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"


class AppendOnlyError(Exception):
    """Ledger entries are never changed or deleted: a correction is a new entry."""


class LedgerEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("ledger entries cannot be updated; add an adjustment instead")

    def delete(self):
        raise AppendOnlyError("ledger entries cannot be deleted; add an adjustment instead")


class LedgerEntry(models.Model):
    """One movement of a customer's money: + credit, - charge. A balance is the Sum of these, never stored."""

    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="ledger_entries")
    amount_cents = models.BigIntegerField()
    kind = models.CharField(max_length=20, choices=LedgerEntryKind.choices)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries")
    note = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(name="ledger_amount_not_zero", condition=~Q(amount_cents=0)),
            models.CheckConstraint(name="ledger_kind_known", condition=Q(kind__in=LedgerEntryKind.values)),
            # The sign follows the kind: credits are positive, charges negative; adjustments either way.
            models.CheckConstraint(
                name="ledger_sign_follows_kind",
                condition=Q(kind="adjustment")
                | Q(kind__in=["top_up", "refund"], amount_cents__gt=0)
                | Q(kind__in=["purchase", "renewal"], amount_cents__lt=0),
            ),
            # Charges and refunds belong to an order; top-ups and adjustments to none.
            models.CheckConstraint(
                name="ledger_order_follows_kind",
                condition=Q(kind__in=["purchase", "renewal", "refund"], order__isnull=False)
                | Q(kind__in=["top_up", "adjustment"], order__isnull=True),
            ),
            # One charge and at most one refund per order, whatever races happen.
            models.UniqueConstraint(
                fields=["order"], condition=Q(kind__in=["purchase", "renewal"]), name="one_charge_per_order"
            ),
            models.UniqueConstraint(fields=["order"], condition=Q(kind="refund"), name="one_refund_per_order"),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"]),
            # A customer's ledger page seeks on (created_at, id) within the customer.
            models.Index(fields=["customer", "created_at", "id"], name="ledger_customer_seek"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("ledger entries cannot be updated; add an adjustment instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("ledger entries cannot be deleted; add an adjustment instead")

    @property
    def amount(self) -> str:
        return format_money(self.amount_cents)

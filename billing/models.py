"""What we sell and for how much, the orders customers place, and the append-only ledger of their money."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

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
    # What upstream charges us (read from the provider where its API gives a price, else entered by the owner).
    cost_cents = models.IntegerField(
        null=True, blank=True, help_text="What one purchase costs us upstream, in minor units; blank when unknown."
    )
    renewal_cost_cents = models.IntegerField(
        null=True, blank=True, help_text="What one renewal costs us upstream, in minor units; blank when unknown."
    )
    active = models.BooleanField(default=True, help_text="Shown and sold in the portal.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(name="product_price_not_negative", condition=Q(price_cents__gte=0)),
            models.CheckConstraint(name="product_renewal_price_not_negative", condition=Q(renewal_price_cents__gte=0)),
            models.CheckConstraint(
                name="product_costs_not_negative",
                condition=(Q(cost_cents__isnull=True) | Q(cost_cents__gte=0))
                & (Q(renewal_cost_cents__isnull=True) | Q(renewal_cost_cents__gte=0)),
            ),
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

    # Margins ---------------------------------------------------------------------------------------

    def cost_for(self, order_kind: str) -> int | None:
        """What an order of `order_kind` costs us upstream now (None when unknown)."""
        return self.cost_cents if order_kind == OrderKind.PURCHASE else self.renewal_cost_cents

    @property
    def below_cost(self) -> bool:
        """Sold (or renewed) for less than it costs us upstream."""
        return below_cost(self.price_cents, self.cost_cents) or below_cost(
            self.renewal_price_cents, self.renewal_cost_cents
        )

    @property
    def cost(self) -> str:
        return format_money(self.cost_cents)

    @property
    def renewal_cost(self) -> str:
        return format_money(self.renewal_cost_cents)


def below_cost(price_cents: int | None, cost_cents: int | None) -> bool:
    return price_cents is not None and cost_cents is not None and price_cents < cost_cents


class OrderKind(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    RENEWAL = "renewal", "Renewal"


class OrderTrigger(models.TextChoices):
    """Who placed an order: a person, or one of the customer's standing wishes (capped monthly)."""

    MANUAL = "manual", "By hand"
    AUTO_RENEW = "auto_renew", "Auto-renew"
    AUTO_TOP_UP = "auto_top_up", "Auto top-up"


class OrderState(models.TextChoices):
    PENDING = "pending", "Pending"
    SUBMITTED = "submitted", "Submitted upstream"
    FULFILLED = "fulfilled", "Fulfilled"
    FAILED = "failed", "Failed (refunded)"
    UNKNOWN = "unknown", "Unknown outcome (money held)"
    NEEDS_DECISION = "needs_decision", "Needs a staff decision (money held)"


# The state machine. unknown -> fulfilled|failed is the reconciliation (it also sets `reconciled_at`);
# unknown -> needs_decision when the evidence upstream cannot tell this order from another, and then
# staff settle it by hand (a resource they pick, or a refund).
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderState.PENDING: frozenset({OrderState.SUBMITTED, OrderState.FAILED}),
    OrderState.SUBMITTED: frozenset({OrderState.FULFILLED, OrderState.FAILED, OrderState.UNKNOWN}),
    OrderState.UNKNOWN: frozenset({OrderState.FULFILLED, OrderState.FAILED, OrderState.NEEDS_DECISION}),
    OrderState.NEEDS_DECISION: frozenset({OrderState.FULFILLED, OrderState.FAILED}),
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
    trigger = models.CharField(max_length=20, choices=OrderTrigger.choices, default=OrderTrigger.MANUAL)
    price_cents = models.IntegerField(help_text="What the customer was charged, in minor units.")
    # Margins and coupons, recorded when the order is placed (the product's prices and costs may change later).
    cost_cents = models.IntegerField(
        null=True, blank=True, help_text="What it cost us upstream at the time, in minor units; blank when unknown."
    )
    discount_cents = models.IntegerField(default=0, help_text="Taken off our price by the coupon, in minor units.")
    coupon = models.ForeignKey("Coupon", null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    idempotency_key = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=20, choices=OrderState.choices, default=OrderState.PENDING)
    request = models.JSONField(
        default=dict, blank=True, help_text="What we sent upstream, stored before sending (never a secret)."
    )
    upstream_ref = models.CharField(max_length=500, blank=True, help_text="e.g. the subscription ids or the token.")
    error = models.TextField(blank=True, help_text="For staff: what went wrong upstream and what to do.")
    error_code = models.CharField(max_length=30, blank=True, help_text="What the customer is told (see services).")
    evidence = models.JSONField(
        default=dict, blank=True, help_text="For staff: what reconciliation found upstream when it could not decide."
    )
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
            models.CheckConstraint(name="order_discount_not_negative", condition=Q(discount_cents__gte=0)),
            models.CheckConstraint(name="order_state_known", condition=Q(state__in=OrderState.values)),
            models.CheckConstraint(name="order_kind_known", condition=Q(kind__in=OrderKind.values)),
            models.CheckConstraint(name="order_trigger_known", condition=Q(trigger__in=OrderTrigger.values)),
            models.CheckConstraint(
                name="order_renewal_has_a_target", condition=Q(kind="purchase") | Q(resource__isnull=False)
            ),
        ]
        indexes = [
            models.Index(fields=["state", "submitted_at"]),
            models.Index(fields=["customer", "-created_at"]),
            models.Index(fields=["customer", "trigger", "created_at"]),
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
    def list_price(self) -> str:
        """Our price before the coupon."""
        return format_money(self.price_cents + self.discount_cents)

    @property
    def discount(self) -> str:
        return format_money(self.discount_cents)

    @property
    def cost(self) -> str:
        return format_money(self.cost_cents)

    @property
    def margin_cents(self) -> int | None:
        return None if self.cost_cents is None else self.price_cents - self.cost_cents

    @property
    def margin(self) -> str:
        return format_money(self.margin_cents)

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
    # Money that moved outside (an online payment and what its payment provider later did to it);
    # each such entry carries the `reference` of the outside event, so it is booked once.
    PAYMENT = "payment", "Online payment"
    PAYMENT_REFUND = "payment_refund", "Payment refunded"
    CHARGEBACK = "chargeback", "Payment disputed"
    CHARGEBACK_REVERSAL = "chargeback_reversal", "Dispute won"


# Credits and charges by kind (the sign constraint below, and the services, read these).
OUTSIDE_CREDIT_KINDS = ("payment", "chargeback_reversal")
OUTSIDE_DEBIT_KINDS = ("payment_refund", "chargeback")


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
    # The running balance: the customer's entries numbered 1, 2, 3... and the balance after each, written
    # once with the entry under the customer's row lock. The balance is the last entry's `balance_after`
    # (one index read, whatever the history's length); it is still the sum of the amounts, never edited.
    sequence = models.PositiveBigIntegerField()
    balance_after_cents = models.BigIntegerField()
    kind = models.CharField(max_length=20, choices=LedgerEntryKind.choices)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries")
    note = models.CharField(max_length=300, blank=True)
    reference = models.CharField(
        max_length=120,
        blank=True,
        help_text="The outside event this entry books (e.g. a payment provider's session or refund), at most once.",
    )
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
                | Q(kind__in=["purchase", "renewal"], amount_cents__lt=0)
                | Q(kind__in=OUTSIDE_CREDIT_KINDS, amount_cents__gt=0)
                | Q(kind__in=OUTSIDE_DEBIT_KINDS, amount_cents__lt=0),
            ),
            # Charges and refunds belong to an order; top-ups and adjustments to none.
            models.CheckConstraint(
                name="ledger_order_follows_kind",
                condition=Q(kind__in=["purchase", "renewal", "refund"], order__isnull=False)
                | Q(kind__in=["top_up", "adjustment", *OUTSIDE_CREDIT_KINDS, *OUTSIDE_DEBIT_KINDS], order__isnull=True),
            ),
            # Outside money is booked once per outside event, however often the event is delivered.
            models.CheckConstraint(
                name="ledger_outside_money_has_reference",
                condition=~Q(kind__in=[*OUTSIDE_CREDIT_KINDS, *OUTSIDE_DEBIT_KINDS]) | ~Q(reference=""),
            ),
            models.UniqueConstraint(fields=["reference"], condition=~Q(reference=""), name="one_entry_per_reference"),
            # One charge and at most one refund per order, whatever races happen.
            models.UniqueConstraint(
                fields=["order"], condition=Q(kind__in=["purchase", "renewal"]), name="one_charge_per_order"
            ),
            models.UniqueConstraint(fields=["order"], condition=Q(kind="refund"), name="one_refund_per_order"),
            # A charge computed from a stale balance collides here instead of forking the chain.
            models.UniqueConstraint(fields=["customer", "sequence"], name="one_ledger_entry_per_sequence"),
            models.CheckConstraint(name="ledger_sequence_positive", condition=Q(sequence__gte=1)),
            # No overdraft by our own charges, enforced by the database whatever the code above it does. Money
            # taken back outside (a refund or dispute at the payment provider) is a fact and may leave a debt,
            # and a credit is always welcome, even one that does not yet clear that debt.
            models.CheckConstraint(
                name="ledger_balance_never_negative",
                condition=Q(balance_after_cents__gte=0) | Q(amount_cents__gte=0) | Q(kind__in=OUTSIDE_DEBIT_KINDS),
            ),
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


class CouponKind(models.TextChoices):
    PERCENT = "percent", "Percent off"
    FIXED = "fixed", "Amount off"


class Coupon(models.Model):
    """Our own discount code: percent or amount off, within a validity window, limited in total and per customer.

    A redemption counts while its order has not failed (a failed order is refunded and gives the use back).
    """

    code = models.CharField(max_length=40, unique=True, help_text="What the customer types (not case-sensitive).")
    description = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=CouponKind.choices)
    percent_off = models.PositiveSmallIntegerField(null=True, blank=True)
    amount_off_cents = models.IntegerField(null=True, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True, help_text="In total; blank for no limit.")
    max_per_customer = models.PositiveIntegerField(
        null=True, blank=True, default=1, help_text="Per customer; blank for no limit."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="coupon_amount_follows_kind",
                condition=Q(kind="percent", percent_off__gte=1, percent_off__lte=100, amount_off_cents__isnull=True)
                | Q(kind="fixed", amount_off_cents__gte=1, percent_off__isnull=True),
            ),
            models.CheckConstraint(
                name="coupon_window_in_order",
                condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def offer(self) -> str:
        return (
            f"{self.percent_off}% off"
            if self.kind == CouponKind.PERCENT
            else f"{format_money(self.amount_off_cents)} off"
        )

    def discount_on(self, price_cents: int) -> int:
        """What this coupon takes off `price_cents`: never more than the price (which floors at 0)."""
        percent = self.kind == CouponKind.PERCENT
        off = price_cents * (self.percent_off or 0) // 100 if percent else (self.amount_off_cents or 0)
        return max(0, min(off, price_cents))


class CouponRedemption(models.Model):
    """One use of a coupon, made in the transaction that creates (and charges) its order."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="coupon_redemptions")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="redemption")
    discount_cents = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="redemption_discount_not_negative", condition=Q(discount_cents__gte=0))
        ]

    def __str__(self) -> str:
        return f"{self.coupon} on order {self.order_id}"


class ResourceClaim(models.Model):
    """Which purchase an upstream resource settled: one resource settles at most one order, ever."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="claims")
    resource = models.OneToOneField("inventory.Resource", on_delete=models.PROTECT, related_name="claim")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"order {self.order_id} -> resource {self.resource_id}"


class OrderLane(models.Model):
    """One lane of purchases whose upstream evidence could be confused (e.g. one plan at one provider account).

    An order holds its lane from just before its upstream call until it is settled, and reconciliation
    holds it while it looks upstream and settles: so whatever reconciliation finds cannot belong to an
    order still in flight. The lease lets a lane held by a worker that died be taken again.
    """

    key = models.CharField(max_length=200, unique=True)
    holder = models.CharField(max_length=64, blank=True, help_text="The attempt holding the lane ('' = free).")
    holder_order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lease_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"lane {self.key}"


class SpendingCap(models.Model):
    """What automatic orders (auto-renew, auto top-up) may spend per calendar month, set by the customer."""

    customer = models.OneToOneField("accounts.Customer", on_delete=models.CASCADE, related_name="spending_cap")
    monthly_cap_cents = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Empty: no cap. Orders placed by hand are never capped."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"cap {self.customer_id}: {self.monthly_cap_cents}"

    @property
    def monthly_cap(self) -> str:
        return "no cap" if self.monthly_cap_cents is None else format_money(self.monthly_cap_cents)


class AutoRenewal(models.Model):
    """A customer's wish that a proxy renews itself before it expires (off unless they turn it on)."""

    resource = models.OneToOneField("inventory.Resource", on_delete=models.CASCADE, related_name="auto_renewal")
    enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"auto-renew {self.resource_id}: {'on' if self.enabled else 'off'}"


class AutoTopUp(models.Model):
    """A customer's wish that a token with a data limit buys a GB pack when its usage crosses a threshold."""

    resource = models.OneToOneField("inventory.Resource", on_delete=models.CASCADE, related_name="auto_top_up")
    enabled = models.BooleanField(default=False)
    threshold_percent = models.PositiveSmallIntegerField(default=90)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="The GB pack to buy."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="auto_top_up_threshold_in_range", condition=Q(threshold_percent__gte=1, threshold_percent__lte=100)
            ),
            models.CheckConstraint(
                name="auto_top_up_enabled_has_a_pack", condition=Q(enabled=False) | Q(product__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"auto top-up {self.resource_id}: {'on' if self.enabled else 'off'} at {self.threshold_percent}%"

"""What the customer API keeps of its own: the body each `Idempotency-Key` was first used with."""

from __future__ import annotations

from django.db import models


class IdempotentRequest(models.Model):
    """One buy or renew request by key: a repeat with the same body gets the same order, another body a 422.

    The order itself carries the key (`Order.idempotency_key`, scoped to the customer, see `api.orders`),
    so the billing path stays the portal's; this row only remembers which body the key was first sent with.
    """

    customer = models.ForeignKey("accounts.Customer", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    order = models.ForeignKey("billing.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "key"], name="one_request_per_customer_key")]

    def __str__(self) -> str:
        return f"{self.key} -> order {self.order_id}"

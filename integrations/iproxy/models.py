"""What this integration keeps besides the mirror: how many ports we sell on each phone, what its plan costs us."""

from __future__ import annotations

from django.db import models


class PhoneCapacity(models.Model):
    """The most proxy accesses we sell on one phone (ours to decide: iProxy sets no limit); 0 sells none."""

    connection = models.OneToOneField(
        "inventory.Resource", on_delete=models.CASCADE, related_name="iproxy_capacity", primary_key=True
    )
    max_ports = models.PositiveIntegerField(default=0, help_text="Proxy accesses sold on this phone at most.")
    # iProxy's API gives no plan prices: the owner enters what one period of this phone's plan costs us,
    # which the runway counts when the plan is due to be prolonged. None: not known.
    plan_price_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="What one 30-day period of this phone's plan costs us, in minor units."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "phone capacities"

    def __str__(self) -> str:
        return f"{self.connection_id}: {self.max_ports} ports"

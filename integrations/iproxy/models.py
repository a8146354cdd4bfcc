"""What this integration keeps besides the mirror: how many ports we sell on each of our phones."""

from __future__ import annotations

from django.db import models


class PhoneCapacity(models.Model):
    """The most proxy accesses we sell on one phone (ours to decide: iProxy sets no limit); 0 sells none."""

    connection = models.OneToOneField(
        "inventory.Resource", on_delete=models.CASCADE, related_name="iproxy_capacity", primary_key=True
    )
    max_ports = models.PositiveIntegerField(default=0, help_text="Proxy accesses sold on this phone at most.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "phone capacities"

    def __str__(self) -> str:
        return f"{self.connection_id}: {self.max_ports} ports"

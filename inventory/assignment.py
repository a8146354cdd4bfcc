"""Inventory writes that are ours alone (not upstream's): assigning resources to customers."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Customer, User
from inventory.models import Resource
from ops import audit


@transaction.atomic
def resource_assign(*, resource: Resource, customer: Customer | None, actor: User | None) -> Resource:
    """Give a resource to a customer (or take it back with None); the sync never changes this."""
    locked = Resource.objects.select_for_update().get(pk=resource.pk)
    previous = locked.customer
    if previous == customer:
        return locked
    locked.customer = customer
    locked.save(update_fields=["customer"])
    audit.record(
        action="inventory.assign" if customer else "inventory.unassign",
        actor=actor,
        target=locked,
        customer=customer or previous,
        data={"from": previous.name if previous else None, "to": customer.name if customer else None},
    )
    return locked

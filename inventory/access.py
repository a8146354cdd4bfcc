"""The one way each view loads a resource: staff see every one, a customer only their own (else 404, never 403)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from inventory import selectors
from inventory.models import Resource


def resource_for_staff(resource_id: int, *, kind: str | None = None) -> Resource:
    """Any resource (of this kind, when given), or 404."""
    resources = Resource.objects.select_related("account", "customer", "parent__account")
    return get_object_or_404(resources, pk=resource_id, **({"kind": kind} if kind else {}))


def resource_for_customer(user, resource_id: int, *, kind: str | None = None) -> Resource:
    """The customer's own resource of a kind we sell (of this kind, when given); anything else is a 404."""
    resources = selectors.resources_for_customer(customer=user.customer).select_related("parent__account")
    return get_object_or_404(resources, pk=resource_id, **({"kind": kind} if kind else {}))

"""Demo mode only: mirror the sandbox's inventory and hand some of it to the demo customers.

Each integration names the upstream ids of its sandbox demo data (seed 1) to hand out, so the
portal has something to show the moment `make run` is up.
"""

from __future__ import annotations

from django.conf import settings

from accounts.models import Customer
from inventory.assignment import resource_assign
from inventory.models import Resource
from inventory.sync import sync_account
from providers import registry
from providers.models import ProviderAccount


def demo_inventory_prepare(*, account_names: list[str]) -> int:
    """Sync the named sandbox accounts, then assign the demo resources still in stock; returns how many."""
    if not settings.DEMO_MODE:
        raise RuntimeError("demo inventory exists only in demo mode")
    accounts = list(ProviderAccount.objects.filter(name__in=account_names, enabled=True))
    for account in accounts:
        # Raises UnavailableError while the sandbox is still starting: the task retries.
        sync_account(account=account)
        registry.for_account(account).demo_prepare(account)
    assigned = 0
    for email, upstream_ids in demo_assignments().items():
        customer = Customer.objects.filter(contact_email=email).first()
        if customer is None:
            continue
        stock = Resource.objects.filter(account__in=accounts, upstream_id__in=upstream_ids, customer__isnull=True)
        for resource in stock:
            resource_assign(resource=resource, customer=customer, actor=None)
            assigned += 1
    return assigned


def demo_assignments() -> dict[str, list[str]]:
    """Every integration's demo hand-outs, by customer contact email."""
    merged: dict[str, list[str]] = {}
    for integration in registry.all_integrations():
        for email, upstream_ids in integration.demo_assignments().items():
            merged.setdefault(email, []).extend(upstream_ids)
    return merged

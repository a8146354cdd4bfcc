"""Demo mode only: mirror the sandbox's inventory and hand some of it to the demo customers.

The upstream ids below are the sandbox's demo data for seed 1 (providers/sandbox/*), so the
portal has something to show the moment `make run` is up.
"""

from __future__ import annotations

from django.conf import settings

from accounts.models import Customer
from inventory.models import Resource
from inventory.services.assignment import resource_assign
from inventory.sync import sync_account
from providers.models import ProviderAccount

DEMO_ASSIGNMENTS = {
    "alice@example.com": ["resiActive01", "resiPools001", "ispActive001", "subnlrotating", "mMBDwDg2e3"],
    "bob@example.com": ["resiAlmost01", "resiExpData1", "subnlexpiring", "sga5YAuhQw"],
}


def demo_inventory_prepare(*, account_names: list[str]) -> int:
    """Sync the named sandbox accounts, then assign the demo resources still in stock; returns how many."""
    if not settings.DEMO_MODE:
        raise RuntimeError("demo inventory exists only in demo mode")
    accounts = list(ProviderAccount.objects.filter(name__in=account_names, enabled=True))
    for account in accounts:
        # Raises UnavailableError while the sandbox is still starting: the task retries.
        sync_account(account=account)
    assigned = 0
    for email, upstream_ids in DEMO_ASSIGNMENTS.items():
        customer = Customer.objects.filter(contact_email=email).first()
        if customer is None:
            continue
        stock = Resource.objects.filter(account__in=accounts, upstream_id__in=upstream_ids, customer__isnull=True)
        for resource in stock:
            resource_assign(resource=resource, customer=customer, actor=None)
            assigned += 1
    return assigned

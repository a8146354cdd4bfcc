"""Reads of the inventory shared by staff pages, the portal and exports."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, QuerySet

from accounts.models import Customer
from inventory.models import Resource
from providers import registry


def resources_for_staff(
    *, search: str = "", kind: str = "", status: str = "", customer_id: str = "", account_id: str = ""
) -> QuerySet[Resource]:
    resources = Resource.objects.select_related("account", "customer")
    if search:
        resources = resources.filter(
            Q(label__icontains=search) | Q(upstream_id__icontains=search) | Q(customer__name__icontains=search)
        )
    if kind:
        resources = resources.filter(kind=kind)
    if status:
        resources = resources.filter(status=status)
    if customer_id == "none":
        resources = resources.filter(customer__isnull=True)
    elif customer_id.isdigit():
        resources = resources.filter(customer_id=int(customer_id))
    if account_id.isdigit():
        resources = resources.filter(account_id=int(account_id))
    return resources.order_by("kind", "label", "id")


def resources_for_customer(*, customer: Customer) -> QuerySet[Resource]:
    """A customer's own proxies, including ones gone upstream (so they can see what ended)."""
    return (
        Resource.objects.filter(customer=customer, kind__in=registry.sold_resource_kinds())
        .select_related("account")
        .order_by("status", "expires_at", "id")
    )


def dashboard_figures(*, now, horizon_days: int = 7) -> dict:
    """Counts for the staff dashboard: live stock, what lapses soon, and what is gone."""
    live = Resource.objects.exclude(status="vanished")
    by_status = dict(live.values_list("status").annotate(n=Count("id")).order_by())
    return {
        "live": sum(by_status.values()),
        "by_status": by_status,
        "unassigned": live.filter(customer__isnull=True, kind__in=registry.sold_resource_kinds()).count(),
        "expiring_soon": live.filter(expires_at__gt=now, expires_at__lte=now + timedelta(days=horizon_days)).count(),
        "horizon_days": horizon_days,
    }


def expiring_soon(*, now, horizon_days: int = 7, limit: int = 10) -> QuerySet[Resource]:
    return (
        Resource.objects.exclude(status="vanished")
        .filter(expires_at__gt=now, expires_at__lte=now + timedelta(days=horizon_days))
        .select_related("customer", "account")
        .order_by("expires_at")[:limit]
    )

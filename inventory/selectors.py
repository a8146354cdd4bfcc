"""Reads of the inventory shared by staff pages, the portal and exports."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, QuerySet

from accounts.models import Customer
from inventory.models import SENDING_PREFIX, Alert, Resource
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


ALERT_STATES = {
    "open": "Open",
    "acknowledged": "Acknowledged",
    "failed": "Delivery failed",
    "all": "All",
}


def alerts_for_staff(*, state: str = "open", kind: str = "") -> QuerySet[Alert]:
    """Alerts by state: open (not acknowledged), acknowledged, delivery failed (kept and retried), or all."""
    alerts = Alert.objects.select_related("resource", "account", "customer", "acknowledged_by")
    if state == "open":
        alerts = alerts.filter(acknowledged_at__isnull=True)
    elif state == "acknowledged":
        alerts = alerts.filter(acknowledged_at__isnull=False)
    elif state == "failed":
        alerts = alerts.filter(delivered_at__isnull=True).exclude(delivery_error="")
        alerts = alerts.exclude(delivery_error__startswith=SENDING_PREFIX)
    if kind:
        alerts = alerts.filter(kind=kind)
    return alerts.order_by("-created_at", "-id")


def notifications_for_customer(*, customer: Customer) -> QuerySet[Alert]:
    """What we sent a customer: their own alerts that went out (staff-only kinds never name a customer)."""
    return (
        Alert.objects.filter(customer=customer, delivered_at__isnull=False)
        .select_related("resource")
        .order_by("-created_at", "-id")
    )

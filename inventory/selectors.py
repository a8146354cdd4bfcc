"""Reads of the inventory shared by staff pages, the portal and exports."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, QuerySet

from accounts.models import Customer
from inventory.models import SENDING_PREFIX, Alert, Resource, ResourceStatus
from ops.seek import SortOrder
from providers import registry

# The staff list's orders, each backed by an index in Resource.Meta (a deep page is a seek, not a scan).
STAFF_SORTS = (
    SortOrder("kind", "Kind", ("kind", "label", "id")),
    SortOrder("label", "Name", ("label", "id")),
    SortOrder("-label", "Name, Z to A", ("label", "id"), descending=True),
    SortOrder("status", "Status", ("status", "label", "id")),
    SortOrder("expires", "Expires soonest", ("expires_at", "id"), nullable=True),
    SortOrder("-expires", "Expires latest", ("expires_at", "id"), descending=True, nullable=True),
    SortOrder("-id", "Newest", ("id",), descending=True),
)
# The portal's orders, within one customer (indexes on customer + the order's columns).
PORTAL_SORTS = (
    SortOrder("expires", "Expires soonest", ("expires_at", "id"), nullable=True),
    SortOrder("label", "Name", ("label", "id")),
    SortOrder("-expires", "Expires latest", ("expires_at", "id"), descending=True, nullable=True),
)
# What a list row shows: never the upstream JSON, which is most of a row's bytes.
LIST_COLUMNS = (
    "id",
    "kind",
    "label",
    "upstream_id",
    "status",
    "expires_at",
    "data_used_bytes",
    "data_limit_bytes",
    "account",
    "customer",
)
# A search by customer name matches at most this many customers' resources (a name fragment is for finding
# one customer; the trigram index answers it, then their resources come from the customer index).
SEARCH_CUSTOMERS = 200


def resources_for_staff(
    *, search: str = "", kind: str = "", status: str = "", customer_id: str = "", account_id: str = ""
) -> QuerySet[Resource]:
    """The staff inventory list: filtered, with the account and customer names, without the upstream JSON."""
    resources = Resource.objects.select_related("account", "customer").only(
        *LIST_COLUMNS, "account__name", "customer__name"
    )
    if search:
        resources = resources.filter(resource_search(search))
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


def resource_search(search: str) -> Q:
    """Label, upstream id or customer name contains `search` (trigram indexes on PostgreSQL).

    A fragment naming few customers becomes a list of their ids: `customer_id IN (...)` is one more index
    condition beside the two trigram ones, where an OR across the join would scan every resource. A
    fragment naming many customers matches so many resources that walking the list in order and testing
    each row's customer finds a page at once, so it stays a join condition.
    """
    matching = Customer.objects.filter(name__icontains=search).values_list("id", flat=True)
    customers = list(matching[: SEARCH_CUSTOMERS + 1])
    by_customer = (
        Q(customer__name__icontains=search) if len(customers) > SEARCH_CUSTOMERS else Q(customer_id__in=customers)
    )
    return Q(label__icontains=search) | Q(upstream_id__icontains=search) | by_customer


def resources_for_portal(*, customer: Customer, search: str = "", kind: str = "", status: str = "") -> QuerySet:
    """The portal list of a customer's proxies: filtered, only the columns a row shows."""
    resources = Resource.objects.filter(customer=customer, kind__in=registry.sold_resource_kinds()).only(*LIST_COLUMNS)
    if search:
        resources = resources.filter(Q(label__icontains=search) | Q(upstream_id__icontains=search))
    if kind:
        resources = resources.filter(kind=kind)
    if status:
        resources = resources.filter(status=status)
    return resources


# What an export line needs: the upstream JSON the integration reads endpoints from, and the columns shown.
EXPORT_COLUMNS = ("id", "kind", "label", "status", "expires_at", "data_used_bytes", "data_limit_bytes", "upstream")


def live_resources_for_export(*, customer: Customer | None = None, ids=None) -> QuerySet:
    """What an export reads, in a stable order, as named rows of EXPORT_COLUMNS (no model instances):
    a customer's live proxies, or staff's selection."""
    resources = Resource.objects.exclude(status=ResourceStatus.VANISHED)
    if customer is not None:
        resources = resources.filter(customer=customer, kind__in=registry.sold_resource_kinds())
    if ids is not None:
        resources = resources.filter(id__in=ids)
    return resources.order_by("id").values_list(*EXPORT_COLUMNS, named=True)


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

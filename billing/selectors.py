"""Reads shared by the staff and portal billing pages, the services and the reconcile task."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from accounts.models import Customer
from accounts.selectors import customer_search
from billing.models import (
    AutoRenewal,
    AutoTopUp,
    LedgerEntry,
    Order,
    OrderKind,
    OrderState,
    OrderTrigger,
    Product,
    SpendingCap,
)
from inventory.models import Resource, ResourceStatus
from ops.seek import SortOrder
from providers import registry

# Seek orders of the ledger and order lists (newest first), on indexes in billing.models.
NEWEST_FIRST = SortOrder("-created", "Newest", ("created_at", "id"), descending=True)

# Orders still waiting for an upstream answer or for reconciliation: a second renewal would pay twice.
OPEN_STATES = (OrderState.PENDING, OrderState.SUBMITTED, OrderState.UNKNOWN, OrderState.NEEDS_DECISION)


def customers_with_balances(*, search: str = "") -> QuerySet[Customer]:
    """Every customer with `balance_cents` from the ledger: its last entry's running balance (no N+1)."""
    balance = (
        LedgerEntry.objects.filter(customer=OuterRef("pk")).order_by("-sequence").values("balance_after_cents")[:1]
    )
    customers = Customer.objects.annotate(
        balance_cents=Coalesce(Subquery(balance, output_field=IntegerField()), Value(0))
    )
    if search:
        customers = customers.filter(customer_search(search))
    return customers.order_by("name", "pk")


def ledger_for_customer(*, customer: Customer) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(customer=customer).select_related("order", "actor").order_by("-created_at", "-id")


def orders_for_staff(*, state: str = "") -> QuerySet[Order]:
    orders = Order.objects.select_related("customer", "product", "resource")
    if state:
        orders = orders.filter(state=state)
    return orders.order_by("-created_at", "-id")


def orders_for_customer(*, customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer).select_related("product", "resource").order_by("-created_at", "-id")


def products_on_sale() -> QuerySet[Product]:
    return Product.objects.filter(active=True).select_related("account").order_by("name", "pk")


def renewal_product_for(*, resource: Resource) -> Product | None:
    """What renews this resource: the product it was bought from (its fulfilled purchase order) when that
    kind renews, else an active product that tops up any resource of its kind on the account (e.g. more
    GB for a token staff assigned by hand); None when nothing does."""
    order = (
        Order.objects.filter(resource=resource, kind=OrderKind.PURCHASE, state=OrderState.FULFILLED)
        .select_related("product", "product__account")
        .order_by("-created_at", "-id")
        .first()
    )
    if order is not None and registry.product_kind(order.product.kind).renewable:
        return order.product
    return _top_ups(resource.account_id, resource.kind).first()


def replacement_product_for(*, resource: Resource) -> Product | None:
    """The product to buy again for a resource sold for a fixed period (its kind cannot be renewed)."""
    order = (
        Order.objects.filter(resource=resource, kind=OrderKind.PURCHASE, state=OrderState.FULFILLED)
        .select_related("product")
        .order_by("-created_at", "-id")
        .first()
    )
    if order is None or not order.product.active or registry.product_kind(order.product.kind).renewable:
        return None
    return order.product


def _top_ups(account_id: int, resource_kind: str) -> QuerySet[Product]:
    kinds = registry.product_kinds_renewing_any(resource_kind)
    return Product.objects.filter(active=True, account_id=account_id, kind__in=kinds).order_by(
        "renewal_price_cents", "pk"
    )


def renewable_resources(*, customer: Customer) -> list[tuple[Resource, Product]]:
    """The customer's resources that can be renewed here, with the product a renewal would sell."""
    product_id = (
        Order.objects.filter(resource=OuterRef("pk"), kind=OrderKind.PURCHASE, state=OrderState.FULFILLED)
        .order_by("-created_at", "-id")
        .values("product_id")[:1]
    )
    resources = list(
        Resource.objects.filter(customer=customer)
        .exclude(status=ResourceStatus.VANISHED)
        .annotate(product_id=Subquery(product_id))
        .order_by("kind", "label", "pk")
    )
    bought = Product.objects.in_bulk({resource.product_id for resource in resources if resource.product_id})
    top_ups: dict[tuple[int, str], Product | None] = {}  # one query per account and kind, not per resource
    found = []
    for resource in resources:
        product = bought.get(resource.product_id)
        if product is None or not registry.product_kind(product.kind).renewable:
            key = (resource.account_id, resource.kind)
            if key not in top_ups:
                top_ups[key] = _top_ups(*key).first()
            product = top_ups[key]
        if product is not None:
            found.append((resource, product))
    return found


def open_renewal_exists(*, resource: Resource) -> bool:
    return Order.objects.filter(resource=resource, kind=OrderKind.RENEWAL, state__in=OPEN_STATES).exists()


def unknown_orders_due(*, before: dt.datetime, stale_before: dt.datetime | None = None) -> QuerySet[Order]:
    """What the reconcile task settles, oldest first: orders in `unknown` since before `before`, and
    with `stale_before`, orders left `pending` (created) or `submitted` since before it by a worker
    that stopped (a crash mid-call leaves `submitted`: it must not hold the money forever)."""
    due = Q(state=OrderState.UNKNOWN, submitted_at__lt=before)
    if stale_before is not None:
        due |= Q(state=OrderState.SUBMITTED, submitted_at__lt=stale_before)
        due |= Q(state=OrderState.PENDING, created_at__lt=stale_before)
    return Order.objects.filter(due).order_by("created_at", "pk")


# Margins -----------------------------------------------------------------------------------------------

MARGIN_GROUPS = {
    "product": ("product_id", "product__name"),
    "customer": ("customer_id", "customer__name"),
    "month": ("month",),
}


def margin_orders() -> QuerySet[Order]:
    """Orders that earned money: fulfilled ones (a failed order was refunded, an open one is not settled)."""
    return Order.objects.filter(state=OrderState.FULFILLED)


def margin_rows(*, by: str) -> list[dict]:
    """Revenue, known cost and margin of fulfilled orders grouped `by` product, customer or month.

    The margin counts orders whose cost is known; `unknown_cost` says how many were left out of it.
    """
    fields = MARGIN_GROUPS[by]
    known = Q(cost_cents__isnull=False)
    rows = (
        margin_orders()
        .annotate(month=TruncMonth("created_at"))
        .values(*fields)
        .annotate(
            orders=Count("id"),
            revenue_cents=Sum("price_cents"),
            discounts=Sum("discount_cents"),
            known_revenue_cents=Coalesce(Sum("price_cents", filter=known), Value(0)),
            costs=Coalesce(Sum("cost_cents", filter=known), Value(0)),
            unknown_cost=Count("id", filter=~known),
        )
        .order_by(*(("-month",) if by == "month" else (fields[1],)))
    )
    result = []
    for row in rows:
        # Annotations cannot take the names of the Order fields they sum.
        row["discount_cents"], row["cost_cents"] = row.pop("discounts"), row.pop("costs")
        row["label"] = row["month"].strftime("%Y-%m") if by == "month" else row[fields[1]]
        row["margin_cents"] = row["known_revenue_cents"] - row["cost_cents"]
        result.append(row)
    return result


def margin_order_list() -> QuerySet[Order]:
    return margin_orders().select_related("customer", "product", "coupon").order_by("-created_at", "-id")


def orders_needing_decision() -> QuerySet[Order]:
    """The staff queue: orders whose upstream evidence could not tell them from another (money held)."""
    return (
        Order.objects.filter(state=OrderState.NEEDS_DECISION)
        .select_related("customer", "product__account")
        .order_by("created_at", "pk")
    )


def month_start(now: dt.datetime | None = None) -> dt.datetime:
    """The start of the current calendar month in the site's time zone (the spending cap's period)."""
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def automatic_spend_this_month(*, customer: Customer, now: dt.datetime | None = None) -> int:
    """What automatic orders (auto-renew, auto top-up) charged this month, refunds left out."""
    total = (
        Order.objects.filter(customer=customer, created_at__gte=month_start(now))
        .exclude(trigger=OrderTrigger.MANUAL)
        .exclude(state=OrderState.FAILED)
        .aggregate(total=Sum("price_cents"))["total"]
    )
    return total or 0


def automatic_spending(*, customer: Customer, now: dt.datetime | None = None) -> tuple[int | None, int]:
    """(monthly cap, spent this month by automatic orders) in one query, for the pages that show both."""
    spent = (
        Order.objects.filter(customer=OuterRef("pk"), created_at__gte=month_start(now))
        .exclude(trigger=OrderTrigger.MANUAL)
        .exclude(state=OrderState.FAILED)
        .values("customer")
        .annotate(total=Sum("price_cents"))
        .values("total")[:1]
    )
    cap = SpendingCap.objects.filter(customer=OuterRef("pk")).values("monthly_cap_cents")[:1]
    return (
        Customer.objects.filter(pk=customer.pk)
        .annotate(cap=Subquery(cap), spent=Coalesce(Subquery(spent), Value(0)))
        .values_list("cap", "spent")
        .get()
    )


def spending_cap_cents(*, customer: Customer) -> int | None:
    return SpendingCap.objects.filter(customer=customer).values_list("monthly_cap_cents", flat=True).first()


def top_up_packs(*, resource: Resource, bought_from: Product | None = None) -> QuerySet[Product]:
    """Products that add data to this token: those of the line it was bought from (none for other kinds)."""
    bought_from = bought_from or renewal_product_for(resource=resource)
    if bought_from is None or resource.data_limit_bytes is None:
        return Product.objects.none()
    return Product.objects.filter(active=True, kind=bought_from.kind, account_id=resource.account_id).order_by(
        "renewal_price_cents", "pk"
    )


def automation_for(*, resource: Resource) -> dict:
    """What the proxy page shows of the automatic orders: the wishes, and whether each applies."""
    bought_from = renewal_product_for(resource=resource)
    return {
        "renewable": bought_from is not None,
        "auto_renewal": AutoRenewal.objects.filter(resource=resource).first(),
        "auto_top_up": AutoTopUp.objects.filter(resource=resource).select_related("product").first(),
        "packs": top_up_packs(resource=resource, bought_from=bought_from),
        "renewal_price": bought_from.renewal_price if bought_from else "",
    }


def pending_orders_to_requeue(*, before: dt.datetime, stale_before: dt.datetime) -> QuerySet[Order]:
    """Orders charged but still `pending` after `before` (their task message may be lost), not yet stale."""
    return Order.objects.filter(state=OrderState.PENDING, created_at__lt=before, created_at__gte=stale_before).order_by(
        "created_at", "pk"
    )

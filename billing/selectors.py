"""Reads shared by the staff and portal billing pages, the services and the reconcile task."""

from __future__ import annotations

import datetime as dt

from django.db.models import IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Customer
from accounts.selectors import customer_search
from billing.models import LedgerEntry, Order, OrderKind, OrderState, Product
from inventory.models import Resource, ResourceStatus
from ops.seek import SortOrder

# Seek orders of the ledger and order lists (newest first), on indexes in billing.models.
NEWEST_FIRST = SortOrder("-created", "Newest", ("created_at", "id"), descending=True)

# Orders still waiting for an upstream answer or for reconciliation: a second renewal would pay twice.
OPEN_STATES = (OrderState.PENDING, OrderState.SUBMITTED, OrderState.UNKNOWN)


def customers_with_balances(*, search: str = "") -> QuerySet[Customer]:
    """Every customer with `balance_cents` computed from the ledger (a subquery, no N+1)."""
    balance = (
        LedgerEntry.objects.filter(customer=OuterRef("pk"))
        .order_by()
        .values("customer")
        .annotate(total=Sum("amount_cents"))
        .values("total")
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
    """The product a resource was bought from (its fulfilled purchase order); None when not bought here."""
    order = (
        Order.objects.filter(resource=resource, kind=OrderKind.PURCHASE, state=OrderState.FULFILLED)
        .select_related("product", "product__account")
        .order_by("-created_at", "-id")
        .first()
    )
    return order.product if order is not None else None


def renewable_resources(*, customer: Customer) -> list[tuple[Resource, Product]]:
    """The customer's resources bought from a product, with that product (what a renewal would sell)."""
    product_id = (
        Order.objects.filter(resource=OuterRef("pk"), kind=OrderKind.PURCHASE, state=OrderState.FULFILLED)
        .order_by("-created_at", "-id")
        .values("product_id")[:1]
    )
    resources = list(
        Resource.objects.filter(customer=customer)
        .exclude(status=ResourceStatus.VANISHED)
        .annotate(product_id=Subquery(product_id))
        .filter(product_id__isnull=False)
        .order_by("kind", "label", "pk")
    )
    products = Product.objects.in_bulk({resource.product_id for resource in resources})
    return [(resource, products[resource.product_id]) for resource in resources]


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

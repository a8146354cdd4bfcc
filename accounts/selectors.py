"""Reads about customers shared by staff pages."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import Customer, User
from ops.seek import SortOrder

# The staff customer and balance lists' orders, each on an index (a deep page is a seek).
CUSTOMER_SORTS = (
    SortOrder("name", "Name", ("name", "id")),
    SortOrder("-name", "Name, Z to A", ("name", "id"), descending=True),
    SortOrder("-id", "Newest", ("id",), descending=True),
)


def customer_search(search: str) -> Q:
    """Name or contact email contains `search` (trigram indexes on PostgreSQL, a scan on SQLite)."""
    return Q(name__icontains=search) | Q(contact_email__icontains=search)


def customers_for_staff(*, search: str = "") -> QuerySet[Customer]:
    # A per-row subquery, not a join + GROUP BY: only the page's rows are counted.
    logins = (
        User.objects.filter(customer=OuterRef("pk")).order_by().values("customer").annotate(n=Count("id")).values("n")
    )
    customers = Customer.objects.annotate(user_count=Coalesce(Subquery(logins, output_field=IntegerField()), Value(0)))
    if search:
        customers = customers.filter(customer_search(search))
    return customers.order_by("name", "id")

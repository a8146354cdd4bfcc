"""Reads about customers shared by staff pages."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from accounts.models import Customer


def customers_for_staff(*, search: str = "") -> QuerySet[Customer]:
    customers = Customer.objects.annotate(user_count=Count("users"))
    if search:
        customers = customers.filter(Q(name__icontains=search) | Q(contact_email__icontains=search))
    return customers.order_by("name")

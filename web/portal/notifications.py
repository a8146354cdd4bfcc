"""The portal's notifications: the alerts we emailed this customer (their own only)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render

from accounts.access import customer_required
from inventory import selectors

PER_PAGE = 50


@customer_required
def notification_list(request):
    notifications = selectors.notifications_for_customer(customer=request.user.customer)
    page = Paginator(notifications, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/notifications.html", {"page": page, "notifications": page.object_list})

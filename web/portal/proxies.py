"""Customer portal: a customer's own proxies, their credentials, usage and expiry, and exports."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from accounts.access import customer_required
from inventory import presenters, selectors
from inventory.access import resource_for_customer
from inventory.forms import PortalFilterForm
from ops import seek
from web.exports import export_response

PROXIES_PER_PAGE = 50
# A customer's list is counted exactly up to here (an index-only count within the customer).
PORTAL_COUNT_CAP = 100_000


@customer_required
def proxy_list(request):
    customer = request.user.customer
    filters = PortalFilterForm(request.GET or None)
    criteria = filters.criteria()
    resources = selectors.resources_for_portal(customer=customer, **criteria)
    order = seek.sort_order(selectors.PORTAL_SORTS, request.GET.get("sort"))
    page = seek.seek_page(
        resources,
        order,
        per_page=PROXIES_PER_PAGE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    template = "portal/home.html#results" if request.htmx else "portal/home.html"
    return render(
        request,
        template,
        {
            "customer": customer,
            "filters": filters,
            "filtered": any(criteria.values()),
            "page": page,
            "count": seek.list_count(resources, filtered=True, cap=PORTAL_COUNT_CAP),
            "sort": order,
            "export_formats": presenters.EXPORT_FORMATS.values(),
            "now": timezone.now(),
            **seek.list_queries(request.GET),
        },
    )


@customer_required
def proxy_detail(request, resource_id: int):
    resource = resource_for_customer(request.user, resource_id)
    return render(
        request,
        "portal/proxy_detail.html",
        {
            "resource": resource,
            "credentials": presenters.credentials(resource),
            "proxy_lines": presenters.proxy_lines(resource),
        },
    )


@customer_required
def proxy_export(request, export_format: str):
    """All the customer's live proxies in one of `presenters.EXPORT_FORMATS`, streamed row by row."""
    chosen = presenters.EXPORT_FORMATS.get(export_format)
    if chosen is None:
        raise Http404("Unknown export format.")
    resources = selectors.live_resources_for_export(customer=request.user.customer)
    return export_response(resources, chosen, name="proxies")

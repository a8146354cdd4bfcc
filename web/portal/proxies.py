"""Customer portal: a customer's own proxies, their credentials, usage and expiry, and exports."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from accounts.access import customer_required
from billing import selectors as billing
from billing.forms import AutoTopUpForm, OrderForm
from inventory import presenters, selectors
from inventory.access import resource_for_customer
from inventory.forms import PortalFilterForm
from inventory.models import ResourceStatus
from ops import seek
from providers import registry
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
            **_offers(resource),
            "automation": _automation(resource),
        },
    )


def _offers(resource) -> dict:
    """What the customer may buy for this proxy here: a renewal (or more GB), or a replacement near its end."""
    now = timezone.now()
    if resource.status == ResourceStatus.VANISHED:
        return {}
    product = billing.renewal_product_for(resource=resource)
    if product is not None and not resource.integration.renewable(resource, now):
        label = registry.product_kind(product.kind).renew_label
        return {"renewal": (product, OrderForm.fresh(product.renewal_price_cents), label)}
    replacement = billing.replacement_product_for(resource=resource)
    # Sold for a fixed period: offered from the first expiry warning on (the alert horizons).
    horizon = dt.timedelta(days=max(settings.ALERT_EXPIRY_HORIZONS_DAYS, default=7))
    if replacement is not None and resource.expires_at is not None and resource.expires_at - now <= horizon:
        return {"replacement": (replacement, OrderForm.fresh(replacement.price_cents))}
    return {}


def _automation(resource):
    automation = billing.automation_for(resource=resource)
    wish = automation["auto_top_up"]
    initial = (
        {"enabled": wish.enabled, "threshold_percent": wish.threshold_percent, "product": wish.product_id}
        if wish
        else {}
    )
    automation["top_up_form"] = AutoTopUpForm(initial=initial or None, packs=automation["packs"])
    automation["days_before"] = settings.AUTO_RENEW_DAYS_BEFORE
    return automation


@customer_required
def proxy_export(request, export_format: str):
    """All the customer's live proxies in one of `presenters.EXPORT_FORMATS`, streamed row by row."""
    chosen = presenters.EXPORT_FORMATS.get(export_format)
    if chosen is None:
        raise Http404("Unknown export format.")
    resources = selectors.live_resources_for_export(customer=request.user.customer)
    return export_response(resources, chosen, name="proxies")

"""Customer portal: a customer's own proxies, their credentials, usage and expiry, and exports."""

from __future__ import annotations

import csv
import datetime as dt

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.access import customer_required
from billing import selectors as billing
from billing.forms import OrderForm
from inventory import presenters, selectors
from inventory.access import resource_for_customer
from inventory.models import ResourceStatus
from providers import registry


@customer_required
def proxy_list(request):
    resources = selectors.resources_for_customer(customer=request.user.customer)
    return render(
        request, "portal/home.html", {"customer": request.user.customer, "resources": resources, "now": timezone.now()}
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


@customer_required
def proxy_export(request, export_format: str):
    """All the customer's live proxies: CSV with details, or TXT with one `host:port:user:pass` per line."""
    resources = [r for r in selectors.resources_for_customer(customer=request.user.customer) if r.status != "vanished"]
    stamp = timezone.now().strftime("%Y%m%d")
    if export_format == "txt":
        body = "".join(f"{line}\n" for resource in resources for line in presenters.proxy_lines(resource))
        response = HttpResponse(body, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="proxies-{stamp}.txt"'
        return response
    if export_format != "csv":
        raise Http404("Unknown export format.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="proxies-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(["id", "kind", "label", "status", "expires_at", "data_used_bytes", "data_limit_bytes", "proxy"])
    for resource in resources:
        for line in presenters.proxy_lines(resource) or [""]:
            writer.writerow(
                [
                    resource.pk,
                    resource.get_kind_display(),
                    _csv_safe(resource.label),
                    resource.status,
                    resource.expires_at.isoformat() if resource.expires_at else "",
                    resource.data_used_bytes if resource.data_used_bytes is not None else "",
                    resource.data_limit_bytes if resource.data_limit_bytes is not None else "",
                    _csv_safe(line),
                ]
            )
    return response


def _csv_safe(value: str) -> str:
    # Spreadsheet apps run cells starting with = + - @ as formulas: neutralise them.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value

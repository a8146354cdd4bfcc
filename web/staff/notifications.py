"""Staff pages of notifications: every delivery with its attempts (the log), and the brand (owner only)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import urlencode

from accounts.access import owner_required, staff_required
from branding.brand import brand_update
from branding.forms import BrandForm
from branding.models import BrandOverride
from notifications import services
from notifications.models import Channel, Delivery

PER_PAGE = 50


@staff_required
def delivery_list(request):
    channel = request.GET.get("channel", "")
    channel = channel if channel in Channel.values else ""
    status = request.GET.get("status", "")
    status = status if status in Delivery.Status.values else ""
    deliveries = services.deliveries_for_staff(channel=channel, status=status)
    page = Paginator(deliveries, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "staff/delivery_list.html",
        {
            "page": page,
            "deliveries": page.object_list,
            "channel": channel,
            "status": status,
            "channels": Channel.choices,
            "statuses": Delivery.Status.choices,
            "query": urlencode({"channel": channel, "status": status}),
            "show_recipient": True,
        },
    )


@owner_required
def brand_edit(request):
    instance = BrandOverride.objects.order_by("pk").first() or BrandOverride()
    form = BrandForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        brand_update(actor=request.user, **{name: form.cleaned_data[name] for name in form.Meta.fields})
        messages.success(request, "Brand saved: every page and email uses it now.")
        return redirect("staff:brand")
    return render(
        request,
        "staff/form_page.html",
        {
            "form": form,
            "title": "Our brand",
            "intro": "Blank fields use the BRAND_* settings. Changes are audited.",
            "submit": "Save brand",
        },
        status=400 if form.errors else 200,
    )

"""Staff inventory pages: everything we hold upstream, who has it, and assigning it."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from inventory import assignment, presenters, selectors, tasks
from inventory.access import resource_for_staff
from inventory.forms import AssignForm, ResourceFilterForm
from providers.models import ProviderAccount

RESOURCES_PER_PAGE = 50


@staff_required
def resource_list(request):
    filters = ResourceFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    resources = selectors.resources_for_staff(
        search=criteria.get("q", "").strip(),
        kind=criteria.get("kind", ""),
        status=criteria.get("status", ""),
        customer_id=criteria.get("customer", ""),
        account_id=criteria.get("account", ""),
    )
    page = Paginator(resources, RESOURCES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "staff/resource_list.html#results" if request.htmx else "staff/resource_list.html"
    return render(request, template, {"filters": filters, "page": page, "query": query.urlencode()})


@staff_required
def resource_detail(request, resource_id: int):
    resource = resource_for_staff(resource_id)
    return render(
        request,
        "staff/resource_detail.html",
        {
            "resource": resource,
            "credentials": presenters.credentials(resource),
            "proxy_lines": presenters.proxy_lines(resource),
            "upstream_json": json.dumps(presenters.upstream_for_display(resource.upstream), indent=2, sort_keys=True),
            "assign_form": AssignForm(initial={"customer": resource.customer_id}),
            "children": resource.children.select_related("customer"),
        },
    )


@staff_required
@require_POST
def resource_assign(request, resource_id: int):
    resource = resource_for_staff(resource_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("inventory:resource-detail", resource_id=resource.pk)
    customer = form.cleaned_data["customer"]
    assignment.resource_assign(resource=resource, customer=customer, actor=request.user)
    if customer:
        messages.success(request, f"{resource} is now {customer.name}'s.")
    else:
        messages.success(request, f"{resource} is back in stock.")
    return redirect("inventory:resource-detail", resource_id=resource.pk)


@staff_required
@require_POST
def account_sync(request, account_id: int):
    """Queue a sync of one provider account now (the worker runs it; the page shows the outcome later)."""
    account = get_object_or_404(ProviderAccount, pk=account_id)
    if not account.enabled:
        messages.error(request, f"{account.name} is disabled; enable it before syncing.")
    else:
        transaction.on_commit(lambda: tasks.sync_account.delay(account.pk))
        messages.success(request, f"Sync of {account.name} queued; refresh in a moment to see its outcome.")
    return redirect("providers:account-list")

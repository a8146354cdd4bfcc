"""Staff inventory pages: everything we hold upstream, who has it, and assigning it."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from inventory import assignment, bulk, drift, presenters, selectors, tasks
from inventory.access import resource_for_staff
from inventory.forms import AssignForm, BulkForm, ResourceFilterForm
from inventory.models import BulkItem, BulkJob
from ops import seek
from providers.models import ProviderAccount
from web.exports import export_response

RESOURCES_PER_PAGE = 50
BULK_ROWS_PER_PAGE = 100


@staff_required
def resource_list(request):
    filters = ResourceFilterForm(request.GET or None)
    criteria = filters.criteria()
    resources = selectors.resources_for_staff(**criteria)
    order = seek.sort_order(selectors.STAFF_SORTS, request.GET.get("sort"))
    page = seek.seek_page(
        resources,
        order,
        per_page=RESOURCES_PER_PAGE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    template = "staff/resource_list.html#results" if request.htmx else "staff/resource_list.html"
    return render(
        request,
        template,
        {
            "filters": filters,
            "page": page,
            "count": seek.list_count(resources, filtered=any(criteria.values()), estimate_large=True),
            "sort": order,
            "bulk_form": BulkForm(initial={"filter_query": request.GET.urlencode()}),
            **seek.list_queries(request.GET),
        },
    )


def _get_bulk_job_for_staff(job_id: int) -> BulkJob:
    return get_object_or_404(BulkJob.objects.select_related("actor", "customer"), pk=job_id)


@staff_required
@require_POST
def bulk_create(request):
    """Start a bulk action on the ticked rows (or all the filter matches); its page shows the progress."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect(f"{reverse('inventory:resource-list')}?{form.data.get('filter_query', '')}")
    data = form.cleaned_data
    if data["action"] in bulk.SPENDING_ACTIONS and not request.user.is_owner:
        raise PermissionDenied("Only owners can extend or add GB in bulk: it spends our upstream balance.")
    if data["all_matching"]:
        criteria = ResourceFilterForm(QueryDict(data["filter_query"])).criteria()
        resources = selectors.resources_for_staff(**criteria)
    else:
        resources = selectors.resources_for_staff().filter(pk__in=data["ids"])
    job = bulk.bulk_job_create(
        action=data["action"],
        actor=request.user,
        resource_ids=resources.order_by("id").values_list("id", flat=True).iterator(),
        customer=data["customer"],
        gb=data["gb"],
        export_format=data["export_format"] or "",
    )
    return redirect("inventory:bulk-detail", job_id=job.pk)


@staff_required
def bulk_detail(request, job_id: int):
    """A bulk job's progress and the result of each row; polled by htmx until it finishes."""
    job = _get_bulk_job_for_staff(job_id)
    items = job.items.select_related("resource").only(
        "id", "job", "outcome", "message", "finished_at", "resource__id", "resource__label", "resource__upstream_id"
    )
    if request.GET.get("outcome") in BulkItem.Outcome.values:
        items = items.filter(outcome=request.GET["outcome"])
    order = seek.SortOrder("id", "Row", ("id",))
    page = seek.seek_page(
        items,
        order,
        per_page=BULK_ROWS_PER_PAGE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    template = "staff/bulk_job.html#progress" if request.htmx else "staff/bulk_job.html"
    return render(
        request,
        template,
        {
            "job": job,
            "progress": bulk.job_progress(job),
            "page": page,
            "export_format": presenters.EXPORT_FORMATS.get(job.export_format),
            **seek.list_queries(request.GET),
        },
    )


@staff_required
def bulk_export(request, job_id: int):
    """The download of a finished export job: the rows that had something to export."""
    job = _get_bulk_job_for_staff(job_id)
    if job.action != BulkJob.Action.EXPORT or job.finished_at is None:
        raise Http404("This job has no download (yet).")
    resources = selectors.live_resources_for_export(ids=bulk.exported_ids(job))
    return export_response(resources, presenters.EXPORT_FORMATS[job.export_format], name=f"selection-{job.pk}")


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
            "assign_form": AssignForm(
                initial={"customer": resource.customer.contact_email if resource.customer else ""}
            ),
            "children": resource.children.select_related("customer"),
            "drift_items": drift.open_drift_for_resource(resource),
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

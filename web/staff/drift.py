"""Staff drift queue: changes made in a provider's own console, and accepting or restoring each one."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from inventory import drift
from inventory.forms import DriftFilterForm
from ops import seek
from providers.http import errors
from providers.registry import ActionRefused

PER_PAGE = 50


@staff_required
def drift_list(request):
    filters = DriftFilterForm(request.GET or None)
    criteria = filters.criteria()
    items = drift.drift_for_staff(**criteria)
    page = seek.seek_page(
        items,
        drift.NEWEST_FIRST,
        per_page=PER_PAGE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    return render(
        request,
        "staff/drift_list.html",
        {
            "filters": filters,
            "page": page,
            "count": seek.list_count(items, filtered=True),
            **seek.list_queries(request.GET),
        },
    )


@staff_required
def drift_detail(request, item_id: int):
    item = drift.item_for_staff(item_id)
    return render(
        request,
        "staff/drift_detail.html",
        {"item": item, "resource": item.resource, "restore_refusal": drift.drift_restore_refusal(item)},
    )


@staff_required
@require_POST
def drift_accept(request, item_id: int):
    item = drift.item_for_staff(item_id)
    if drift.drift_accept(item=item, actor=request.user):
        messages.success(request, f"Accepted: the {item.field_label.lower()} stays as the provider now has it.")
    else:
        messages.info(request, f"This change was already {item.get_state_display().lower()}.")
    return redirect("staff:drift-detail", item_id=item.pk)


@staff_required
@require_POST
def drift_restore(request, item_id: int):
    item = drift.item_for_staff(item_id)
    try:
        restored = drift.drift_restore(item=item, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    except errors.ProviderError as exc:
        messages.error(request, f"The provider refused to set ours back: {exc.message}")
    else:
        if restored:
            messages.success(request, f"Restored: the {item.field_label.lower()} is ours again upstream.")
        else:
            messages.info(request, f"This change was already {item.get_state_display().lower()}.")
    return redirect("staff:drift-detail", item_id=item.pk)

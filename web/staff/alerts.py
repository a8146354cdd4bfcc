"""Staff alerts: what the system warned about (open, acknowledged, delivery failed), and acknowledging one."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from inventory import alerts, selectors
from inventory.models import Alert

PER_PAGE = 50


def _get_alert_for_staff(alert_id: int) -> Alert:
    return get_object_or_404(Alert, pk=alert_id)


@staff_required
def alert_list(request):
    state = request.GET.get("state", "open")
    state = state if state in selectors.ALERT_STATES else "open"
    kind = request.GET.get("kind", "")
    kind = kind if kind in Alert.Kind.values else ""
    page = Paginator(selectors.alerts_for_staff(state=state, kind=kind), PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "staff/alert_list.html",
        {
            "page": page,
            "alerts": page.object_list,
            "state": state,
            "kind": kind,
            "states": selectors.ALERT_STATES,
            "kinds": Alert.Kind.choices,
            "query": urlencode({"state": state, "kind": kind}),
        },
    )


@staff_required
@require_POST
def alert_acknowledge(request, alert_id: int):
    alert = _get_alert_for_staff(alert_id)
    if alerts.alert_acknowledge(alert=alert, actor=request.user):
        messages.success(request, f"Acknowledged: {alert.message}")
    else:
        messages.info(request, "That alert was already acknowledged.")
    back = request.POST.get("back", "")
    return redirect(back if back.startswith("/staff/alerts/") else "staff:alert-list")

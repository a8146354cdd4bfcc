"""Staff pages that look ahead: services upstream stops serving before their paid period ends (with the fix),
and renewals that would sell below cost. Each provider's balance runway is on its account page."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.access import owner_required, staff_required
from billing import foresight
from inventory.access import resource_for_staff
from providers.http import errors


@staff_required
def alignment_list(request):
    return render(request, "staff/billing/alignment.html", {"items": foresight.misalignments()})


@owner_required
@require_POST
def alignment_fix(request, resource_id: int):
    """Make upstream serve one sold resource through its paid period; owners only, as it spends our balance."""
    resource = resource_for_staff(resource_id)
    try:
        foresight.resource_align(resource=resource, actor=request.user)
    except (ValueError, errors.ProviderError) as exc:
        messages.error(request, f"{resource}: not fixed: {exc}")
    else:
        messages.success(request, f"{resource}: upstream now serves it through its paid period.")
    return redirect("billing:alignment")


@owner_required
def margin_risk(request):
    return render(request, "staff/billing/margin_risk.html", {"risks": foresight.margins_at_risk()})

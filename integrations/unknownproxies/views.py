"""Staff and portal actions on unknownproxies resources (views stay thin: form -> service -> message).

Staff modify residential tokens (data limit, duration, pools) and ISP tokens (every field). Customers
serve themselves on their own ISP tokens only (IP whitelist or user/pass, protocol, password); more GB
or time on a residential token is bought, not edited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.access import customer_required, staff_required
from integrations.unknownproxies import actions as services
from integrations.unknownproxies.forms import IspTokenForm, IspTokenModifyForm, ResiTokenModifyForm
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN
from inventory.access import resource_for_customer, resource_for_staff
from inventory.action_messages import perform
from inventory.models import Resource
from providers.http import errors

UNKNOWN_OUTCOME = (
    "We could not confirm the change with Unknown Proxies: it may or may not have been applied. "
    "The next sync will show the truth; check this page again in a few minutes before trying again."
)
FIELD_LABELS = {
    "dataLimit": "data limit",
    "durationHours": "duration",
    "allowedPools": "pools",
    "authType": "authentication",
    "authenticatedIps": "whitelisted IPs",
    "proxyType": "protocol",
    "username": "username",
    "password": "password",
}


def _perform(request, call: Callable[[], Any], success: str) -> bool:
    return perform(request, call, success, unknown_outcome=UNKNOWN_OUTCOME)


def _saved(changes: dict[str, Any]) -> str:
    return "Saved: " + ", ".join(label for name, label in FIELD_LABELS.items() if name in changes) + "."


def _modify(
    request, *, resource: Resource, form, service: Callable[..., Resource], template: str, back: str, title: str
):
    """The shared GET/POST flow of a modify page: show the form, or validate, call the service, go back."""
    if request.method == "POST" and form.is_valid():
        _perform(
            request,
            lambda: service(resource=resource, actor=request.user, **form.service_kwargs()),
            _saved(form.changes),
        )
        return redirect(back)
    return render(request, template, {"resource": resource, "form": form, "title": title, "back_url": back})


# Staff ------------------------------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def staff_resi_modify(request, resource_id: int):
    resource = resource_for_staff(resource_id, kind=RESI_TOKEN)
    back = reverse("inventory:resource-detail", args=[resource.pk])
    try:
        pools = services.resi_pools(resource=resource)
    except errors.ProviderError as exc:
        messages.error(request, f"Could not load the residential pools: {exc.message}")
        return redirect(back)
    form = ResiTokenModifyForm(
        request.POST if request.method == "POST" else None,
        resource=resource,
        pools=[(pool.id, f"{pool.name} ({pool.id})") for pool in pools],
    )
    return _modify(
        request,
        resource=resource,
        form=form,
        service=services.resi_token_modify,
        template="staff/actions/form.html",
        back=back,
        title="Modify residential token",
    )


@staff_required
@require_http_methods(["GET", "POST"])
def staff_isp_modify(request, resource_id: int):
    resource = resource_for_staff(resource_id, kind=ISP_TOKEN)
    form = IspTokenModifyForm(request.POST if request.method == "POST" else None, resource=resource)
    back = reverse("inventory:resource-detail", args=[resource.pk])
    return _modify(
        request,
        resource=resource,
        form=form,
        service=services.isp_token_modify,
        template="staff/actions/form.html",
        back=back,
        title="Modify ISP token",
    )


# Portal -----------------------------------------------------------------------------------------------


@customer_required
@require_http_methods(["GET", "POST"])
def portal_isp_settings(request, resource_id: int):
    resource = resource_for_customer(request.user, resource_id, kind=ISP_TOKEN)
    form = IspTokenForm(request.POST if request.method == "POST" else None, resource=resource)
    back = reverse("portal:proxy-detail", args=[resource.pk])
    return _modify(
        request,
        resource=resource,
        form=form,
        service=services.isp_token_modify,
        template="portal/actions/form.html",
        back=back,
        title="Proxy settings",
    )

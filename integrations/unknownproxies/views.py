"""Staff and portal actions on unknownproxies resources; each view reads view -> form -> action -> message.

Staff modify residential tokens (data limit, duration, pools) and ISP tokens (every field). Customers
serve themselves on their own ISP tokens only (IP whitelist or user/pass, protocol, password); more GB
or time on a residential token is bought, not edited.
"""

from __future__ import annotations

from collections.abc import Collection

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.access import customer_required, staff_required
from integrations.unknownproxies import actions
from integrations.unknownproxies.forms import IspTokenForm, IspTokenModifyForm, ResiTokenModifyForm
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN
from inventory.access import resource_for_customer, resource_for_staff
from providers.http import errors

UNKNOWN_OUTCOME = (
    "We could not confirm the change with Unknown Proxies: it may or may not have been applied. "
    "The next sync will show the truth; check this page again in a few minutes before trying again."
)
# Form field (= action keyword) -> how the success message names it, in the order it lists them.
FIELD_LABELS = {
    "data_limit": "data limit",
    "duration_hours": "duration",
    "allowed_pools": "pools",
    "auth_type": "authentication",
    "authenticated_ips": "whitelisted IPs",
    "proxy_type": "protocol",
    "username": "username",
    "password": "password",
}


def _saved(changed: Collection[str]) -> str:
    return "Saved: " + ", ".join(label for name, label in FIELD_LABELS.items() if name in changed) + "."


def _report_failure(request, exc: errors.ProviderError) -> None:
    """The message for an action that raised: a lost answer may have worked; anything else was refused."""
    if isinstance(exc, errors.UnknownOutcomeError):
        messages.warning(request, UNKNOWN_OUTCOME)
    else:
        messages.error(request, f"The change was refused: {exc.message}")


def _form_page(request, template: str, *, resource, form, title: str, back: str):
    return render(request, template, {"resource": resource, "form": form, "title": title, "back_url": back})


# Staff ------------------------------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def staff_resi_modify(request, resource_id: int):
    resource = resource_for_staff(resource_id, kind=RESI_TOKEN)
    back = reverse("inventory:resource-detail", args=[resource.pk])
    try:
        pools = actions.resi_pools(resource=resource)
    except errors.ProviderError as exc:
        messages.error(request, f"Could not load the residential pools: {exc.message}")
        return redirect(back)
    form = ResiTokenModifyForm(
        request.POST if request.method == "POST" else None,
        resource=resource,
        pools=[(pool.id, f"{pool.name} ({pool.id})") for pool in pools],
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.resi_token_modify(resource=resource, actor=request.user, **form.action_kwargs())
        except errors.ProviderError as exc:
            _report_failure(request, exc)
        else:
            messages.success(request, _saved(form.changes))
        return redirect(back)
    return _form_page(
        request, "staff/actions/form.html", resource=resource, form=form, title="Modify residential token", back=back
    )


@staff_required
@require_http_methods(["GET", "POST"])
def staff_isp_modify(request, resource_id: int):
    resource = resource_for_staff(resource_id, kind=ISP_TOKEN)
    back = reverse("inventory:resource-detail", args=[resource.pk])
    form = IspTokenModifyForm(request.POST if request.method == "POST" else None, resource=resource)
    return _isp_modify(request, resource, form, "staff/actions/form.html", title="Modify ISP token", back=back)


# Portal -----------------------------------------------------------------------------------------------


@customer_required
@require_http_methods(["GET", "POST"])
def portal_isp_settings(request, resource_id: int):
    resource = resource_for_customer(request.user, resource_id, kind=ISP_TOKEN)
    back = reverse("portal:proxy-detail", args=[resource.pk])
    form = IspTokenForm(request.POST if request.method == "POST" else None, resource=resource)
    return _isp_modify(request, resource, form, "portal/actions/form.html", title="Proxy settings", back=back)


def _isp_modify(request, resource, form, template: str, *, title: str, back: str):
    """Staff and portal ISP settings: the same route, with the staff or the customer form."""
    if request.method == "POST" and form.is_valid():
        try:
            actions.isp_token_modify(resource=resource, actor=request.user, **form.action_kwargs())
        except errors.ProviderError as exc:
            _report_failure(request, exc)
        else:
            messages.success(request, _saved(form.changes))
        return redirect(back)
    return _form_page(request, template, resource=resource, form=form, title=title, back=back)

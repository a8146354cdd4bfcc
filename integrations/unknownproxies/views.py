"""Staff and portal actions on unknownproxies resources; each view reads view -> form -> action -> message.

Staff create residential and ISP tokens on a provider account (for stock or straight for a customer;
each create form is sent once), re-read one token from upstream, and modify residential tokens (data
limit, duration, pools) and ISP tokens (every field). Customers serve themselves on their own ISP tokens
only (IP whitelist or user/pass, protocol, password); more GB or time on a residential token is bought,
not edited.
"""

from __future__ import annotations

from collections.abc import Collection

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import customer_required, staff_required
from integrations.unknownproxies import actions
from integrations.unknownproxies.forms import (
    IspTokenCreateForm,
    IspTokenForm,
    IspTokenModifyForm,
    ResiTokenCreateForm,
    ResiTokenModifyForm,
)
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN, UNKNOWN_PROXIES
from inventory import submissions
from inventory.access import resource_for_customer, resource_for_staff
from providers.http import errors
from providers.models import ProviderAccount

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


# Staff: new tokens on a provider account -------------------------------------------------------------

UNKNOWN_CREATE = (
    "We could not confirm the new token with Unknown Proxies: it may or may not have been created. "
    "Sync the account and look for it in the inventory before trying again."
)


def _account(account_id: int) -> ProviderAccount:
    return get_object_or_404(ProviderAccount, pk=account_id, kind=UNKNOWN_PROXIES)


def _create_page(request, account: ProviderAccount, form, title: str, status: int = 200):
    context = {"account": account, "form": form, "title": title, "submit": "Create", "back_url": _account_url(account)}
    return render(request, "unknownproxies/token_new.html", context, status=status)


def _account_url(account: ProviderAccount) -> str:
    return reverse("providers:account-detail", args=[account.pk])


def _not_sent(request, account: ProviderAccount, form, *, scope: str, title: str):
    """The response when a create must not be sent: the form to fill (again), or a repeat of a sent one.

    None when the form is valid and its key was free: the caller sends the create now.
    """
    if request.method != "POST" or not form.is_valid():
        return _create_page(request, account, form, title, status=400 if request.method == "POST" else 200)
    key = form.cleaned_data["request_key"]
    if submissions.claim(scope, key):
        return None
    done = submissions.previous(scope, key)
    messages.info(request, "This form was already sent: nothing new was created.")
    if done:
        return redirect("inventory:resource-detail", resource_id=done[0])
    return redirect(_account_url(account))


def _create_failed(request, account: ProviderAccount, form, exc: errors.ProviderError, *, scope: str, title: str):
    if isinstance(exc, errors.UnknownOutcomeError):
        messages.warning(request, UNKNOWN_CREATE)  # the key stays taken: it may have been created
        return redirect(_account_url(account))
    submissions.release(scope, form.cleaned_data["request_key"])
    form.add_error(None, f"Unknown Proxies refused: {exc.message}")
    return _create_page(request, account, form, title, status=400)


def _created_page(request, account: ProviderAccount, form, resource, shown_once: dict, *, scope: str, title: str):
    submissions.remember(scope, form.cleaned_data["request_key"], [resource.pk])
    context = {"account": account, "resource": resource, "shown_once": shown_once, "title": f"{title}: created"}
    return render(request, "unknownproxies/token_created.html", context)


@staff_required
@require_http_methods(["GET", "POST"])
def staff_resi_create(request, account_id: int):
    account = _account(account_id)
    form = ResiTokenCreateForm(request.POST if request.method == "POST" else None)
    where = {"scope": "up-resi-create", "title": "New residential token"}
    if (response := _not_sent(request, account, form, **where)) is not None:
        return response
    try:
        resource, token = actions.resi_token_create(account=account, actor=request.user, **form.action_kwargs())
    except errors.ProviderError as exc:
        return _create_failed(request, account, form, exc, **where)
    # The generated password, on this page only: the provider answers it once.
    shown_once = {"Username": token.username, "Password": token.password}
    return _created_page(request, account, form, resource, shown_once, **where)


@staff_required
@require_http_methods(["GET", "POST"])
def staff_isp_create(request, account_id: int):
    account = _account(account_id)
    form = IspTokenCreateForm(request.POST if request.method == "POST" else None)
    where = {"scope": "up-isp-create", "title": "New ISP token"}
    if (response := _not_sent(request, account, form, **where)) is not None:
        return response
    try:
        resource = actions.isp_token_create(account=account, actor=request.user, **form.action_kwargs())
    except errors.ProviderError as exc:
        return _create_failed(request, account, form, exc, **where)
    return _created_page(request, account, form, resource, {}, **where)


# Staff: one token ---------------------------------------------------------------------------------------


def _refresh(request, resource):
    try:
        refreshed = actions.token_refresh(resource=resource, actor=request.user)
    except errors.ProviderError as exc:
        messages.error(request, f"Could not read the token from Unknown Proxies: {exc.message}")
    else:
        if refreshed.vanished_at is not None:
            messages.warning(request, "Unknown Proxies no longer knows this token: it is marked gone upstream.")
        else:
            messages.success(request, f"Re-read from Unknown Proxies: {refreshed.get_status_display().lower()}.")
    return redirect("inventory:resource-detail", resource_id=resource.pk)


@staff_required
@require_POST
def staff_resi_refresh(request, resource_id: int):
    return _refresh(request, resource_for_staff(resource_id, kind=RESI_TOKEN))


@staff_required
@require_POST
def staff_isp_refresh(request, resource_id: int):
    return _refresh(request, resource_for_staff(resource_id, kind=ISP_TOKEN))


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

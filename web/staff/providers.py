"""Staff pages for provider accounts: support sees their health, owners manage them and their secrets."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import owner_required, staff_required
from billing import foresight
from inventory.models import SyncRun
from providers import registry, services
from providers.forms import ProviderAccountForm
from providers.http import errors
from providers.models import ProviderAccount


def _get_account_for_staff(account_id: int) -> ProviderAccount:
    return get_object_or_404(ProviderAccount, pk=account_id)


@staff_required
def account_list(request):
    latest_run = SyncRun.objects.filter(account=OuterRef("pk")).order_by("-started_at", "-id")
    accounts = ProviderAccount.objects.annotate(
        last_sync_at=Subquery(latest_run.values("started_at")[:1]),
        last_sync_outcome=Subquery(latest_run.values("outcome")[:1]),
        last_sync_error=Subquery(latest_run.values("error")[:1]),
    )
    return render(request, "staff/provider_list.html", {"accounts": accounts})


@staff_required
def account_detail(request, account_id: int):
    """One account: its health, and the integration's account-level screens (its `account_panel_template`)."""
    account = _get_account_for_staff(account_id)
    runs = SyncRun.objects.filter(account=account).order_by("-started_at", "-id")[:5]
    runway = foresight.account_runway(account)
    return render(request, "staff/provider_detail.html", {"account": account, "runs": runs, "runway": runway})


@owner_required
def account_create(request):
    choices = registry.provider_kind_choices()
    kind = request.GET.get("kind") or (choices[0][0] if choices else "")
    try:
        default_base_url = registry.get(kind).default_base_url
    except registry.UnknownKind:
        kind, default_base_url = "", ""
    initial = {"kind": kind, "base_url": default_base_url}
    form = ProviderAccountForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        account = services.provider_account_create(actor=request.user, **form.cleaned_data)
        messages.success(request, f"Provider account {account.name} added. Run a check to test its credentials.")
        return redirect("providers:account-list")
    return render(request, "staff/form_page.html", {"form": form, "title": "New provider account"})


@owner_required
def account_edit(request, account_id: int):
    account = _get_account_for_staff(account_id)
    form = ProviderAccountForm(request.POST or None, instance=ProviderAccount.objects.get(pk=account.pk))
    if request.method == "POST" and form.is_valid():
        services.provider_account_update(account=account, actor=request.user, **form.cleaned_data)
        messages.success(request, f"Provider account {account.name} saved.")
        return redirect("providers:account-list")
    return render(request, "staff/form_page.html", {"form": form, "title": f"Edit {account.name}"})


@staff_required
@require_POST
def account_check(request, account_id: int):
    account = _get_account_for_staff(account_id)
    result = services.provider_account_check(account=account, actor=request.user)
    (messages.success if result.ok else messages.error)(request, f"{account.name}: {result.message}")
    return redirect("providers:account-list")


@owner_required
@require_POST
def account_rotate_key(request, account_id: int):
    account = _get_account_for_staff(account_id)
    try:
        services.provider_api_key_rotate(account=account, actor=request.user)
    except (errors.ProviderError, ValueError) as exc:
        messages.error(request, f"{account.name}: the key was not rotated: {exc}")
    else:
        messages.success(request, f"{account.name}: new API key stored; the old one no longer works.")
    return redirect("providers:account-list")

"""Staff pages of an iProxy account: its user info and balance, and (owners) its basic info."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import owner_required, staff_required
from integrations.iproxy import account_actions
from integrations.iproxy.account_forms import LABELS, AccountBasicInfoForm
from integrations.iproxy.kinds import IPROXY
from providers.http import errors
from providers.models import ProviderAccount


def _account(account_id: int) -> ProviderAccount:
    return get_object_or_404(ProviderAccount, pk=account_id, kind=IPROXY)


def _page(request, account: ProviderAccount, form=None, status: int = 200):
    try:
        info = account_actions.account_info(account=account)
    except errors.ProviderError as exc:
        messages.error(request, f"Could not read the account from iProxy: {exc.message}")
        return redirect("providers:account-detail", account_id=account.pk)
    current = {"display_name": info.display_name, "telegram": info.telegram, "proxy_prefix": info.proxy_prefix}
    form = form or AccountBasicInfoForm(current=current)
    return render(request, "iproxy/account_info.html", {"account": account, "info": info, "form": form}, status=status)


@staff_required
def account_page(request, account_id: int):
    return _page(request, _account(account_id))


@owner_required
@require_POST
def account_update(request, account_id: int):
    account = _account(account_id)
    try:
        info = account_actions.account_info(account=account)
    except errors.ProviderError as exc:
        messages.error(request, f"Could not read the account from iProxy: {exc.message}")
        return redirect("inventory:iproxy-account", account_id=account.pk)
    current = {"display_name": info.display_name, "telegram": info.telegram, "proxy_prefix": info.proxy_prefix}
    form = AccountBasicInfoForm(request.POST, current=current)
    if not form.is_valid():
        return _page(request, account, form, status=400)
    try:
        account_actions.account_basic_info_update(account=account, actor=request.user, changes=form.changes)
    except errors.UnknownOutcomeError:
        messages.warning(request, "We could not confirm the change: iProxy did not answer. Read the page again.")
    except errors.ProviderError as exc:
        messages.error(request, f"iProxy refused the change: {exc.message}")
    else:
        messages.success(request, "Saved: " + ", ".join(LABELS[name] for name in form.changes) + ".")
    return redirect("inventory:iproxy-account", account_id=account.pk)

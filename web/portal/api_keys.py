"""Customer portal: the login's API keys for the customer API (create, shown once; list; revoke)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import api_keys
from accounts.access import customer_required
from accounts.models import ApiKey


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “billing script”.")
    access = forms.ChoiceField(
        choices=[
            ("read", "Read-only: proxies, orders, balance"),
            ("write", "Read-write: may also buy, renew and change"),
        ],
        initial="read",
        widget=forms.RadioSelect,
    )


def _get_key_for_user(user, key_id: int) -> ApiKey:
    return get_object_or_404(ApiKey, pk=key_id, user=user)


@customer_required
@require_http_methods(["GET", "POST"])
def api_key_list(request):
    form = ApiKeyForm(request.POST if request.method == "POST" else None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_key = api_keys.api_key_create(
                user=request.user,
                name=form.cleaned_data["name"],
                can_write=form.cleaned_data["access"] == "write",
                actor=request.user,
            )
        except api_keys.ApiKeyError as exc:
            form.add_error(None, str(exc))
        else:
            # Rendered once, right here, and never stored: a redirect would have to carry the key.
            form = ApiKeyForm()
    response = render(
        request,
        "portal/api_keys.html",
        {"form": form, "keys": api_keys.api_keys_for_user(user=request.user), "new_key": new_key},
        status=400 if request.method == "POST" and new_key is None else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


@customer_required
@require_POST
def api_key_revoke(request, key_id: int):
    key = api_keys.api_key_revoke(key=_get_key_for_user(request.user, key_id), actor=request.user)
    messages.success(request, f"The key “{key.name}” is revoked: it stopped working at once.")
    return redirect("portal:api-key-list")

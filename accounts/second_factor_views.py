"""The second sign-in factor's pages: set up an authenticator app, enter a code, renew recovery codes."""

from __future__ import annotations

from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts import second_factor


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
        help_text="The six digits your authenticator app shows, or one of your recovery codes.",
    )


class AppCodeForm(CodeForm):
    code = forms.CharField(
        label="Code from the app",
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text="After scanning, type the six digits the app shows.",
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("accounts:home")


def _locked_out(request):
    """Too many wrong codes or passwords for this username and address: django-axes' lock-out applies here too."""
    credentials = {"username": request.user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        logout(request)
        return render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
    return None


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    """The code step after the password: an app code or a recovery code."""
    if request.user.is_verified() or not second_factor.has_any_device(request.user):
        return redirect(_next_url(request))
    locked = _locked_out(request)
    if locked:
        return locked
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = second_factor.verify(request=request, code=form.cleaned_data["code"])
        if outcome.ok:
            return redirect(_next_url(request))
        locked = _locked_out(request)
        if locked:
            return locked
        form.add_error("code", outcome.message)
    return render(request, "registration/second_factor_verify.html", {"form": form, "next": _next_url(request)})


@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    """Two-step sign-in: set up an authenticator app (QR code), or see its state and renew recovery codes."""
    user = request.user
    if not user.is_verified() and second_factor.has_any_device(user):
        return redirect(f"{reverse('accounts:second-factor-verify')}?{urlencode({'next': request.get_full_path()})}")
    if second_factor.has_app(user):
        return render(
            request,
            "registration/second_factor_status.html",
            {"codes_left": second_factor.recovery_codes_left(user), "may_disable": not user.is_staff_member},
        )
    device = second_factor.pending_app_device(user)
    form = AppCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome, codes = second_factor.app_confirm(request=request, device=device, code=form.cleaned_data["code"])
        if outcome.ok:
            return render(
                request, "registration/recovery_codes.html", {"codes": codes, "next": _next_url(request), "new": True}
            )
        form.add_error("code", outcome.message)
    return render(
        request,
        "registration/second_factor_setup.html",
        {
            "form": form,
            "qr_svg": second_factor.qr_code_svg(device),
            "secret": second_factor.secret_for_typing(device),
            "required": user.is_staff_member,
            "next": _next_url(request),
        },
    )


@login_required
@require_POST
def recovery_codes(request):
    """New recovery codes (the old ones stop working), shown once."""
    if not second_factor.has_app(request.user) or not request.user.is_verified():
        raise PermissionDenied("Set up an authenticator app first.")
    codes = second_factor.recovery_codes_renew(request=request)
    return render(request, "registration/recovery_codes.html", {"codes": codes, "next": reverse("accounts:home")})


@login_required
@require_POST
def disable(request):
    """A customer user turns two-step sign-in off; staff are refused, it is required for them."""
    if request.user.is_staff_member:
        raise PermissionDenied("Staff must keep two-step sign-in.")
    second_factor.second_factor_disable(request=request)
    messages.info(request, "Two-step sign-in is off.")
    return redirect("accounts:second-factor-setup")

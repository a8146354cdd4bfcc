"""Holds a signed-in user who still owes the second factor on the sign-in pages until they pass it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts import second_factor

# Pages a user may open between the password and the code: the code pages themselves and signing out.
OPEN_URL_NAMES = ("accounts:second-factor-verify", "accounts:second-factor-setup", "accounts:logout")


class SecondFactorMiddleware:
    """After django_otp's OTPMiddleware: staff (and customers who turned it on) pass a code before any page.

    Staff without an authenticator app are sent to set one up; everyone else with one is asked for a code.
    The admin site is covered too, since its pages are pages like any other.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        owes_code = user.is_authenticated and not user.is_verified() and not self._is_open(request.path)
        if owes_code and second_factor.is_required(user):
            target = "accounts:second-factor-verify"
            if not second_factor.has_any_device(user):
                target = "accounts:second-factor-setup"
            address = f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}"
            if getattr(request, "htmx", False):  # a fragment request: send the whole page there, not a swap
                return HttpResponse(status=204, headers={"HX-Redirect": address})
            return redirect(address)
        return self.get_response(request)

    @staticmethod
    def _is_open(path: str) -> bool:
        if path.startswith(f"/{settings.STATIC_URL.lstrip('/')}") or path == reverse("healthz"):
            return True
        return path in {reverse(name) for name in OPEN_URL_NAMES}

"""Test helpers for the second sign-in factor: a verified session for force_login, and the app's current code."""

from __future__ import annotations

import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import second_factor

TEST_DEVICE_NAME = "force_login (tests)"


def mark_verified(client: Client, user) -> None:
    """What `django_otp.login(request, device)` does after a code, for a client signed in with force_login."""
    device = (
        TOTPDevice.objects.filter(user=user, confirmed=True).first()
        or StaticDevice.objects.filter(user=user, confirmed=True).first()
    )
    if device is None:
        device = StaticDevice.objects.create(user=user, name=TEST_DEVICE_NAME, confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def force_login_with_second_factor(original):
    """Wrap Client.force_login: it skips the password, so it skips the code too for whoever needs one."""

    def force_login(self, user, backend=None):
        original(self, user, backend)
        if second_factor.is_required(user):
            mark_verified(self, user)

    return force_login


def app_code(device: TOTPDevice) -> str:
    """The code the authenticator app shows now, or the next one if the current one was already used.

    django-otp refuses a code of a time step it has already accepted, and accepts one step ahead
    (`tolerance`), so a test never has to wait for the clock.
    """
    device.refresh_from_db()
    now_step = int((time.time() - device.t0) // device.step) + device.drift
    step = max(now_step, device.last_t + 1)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = device.t0 + step * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(client: Client, user, *, next_url: str = "") -> list[str]:
    """Set up an authenticator app through the pages, as a person would; returns the recovery codes shown."""
    from django.urls import reverse

    setup = reverse("accounts:second-factor-setup")
    assert client.get(setup).status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(setup, {"code": app_code(device), "next": next_url})
    assert response.status_code == 200, response.content
    return list(response.context["codes"])

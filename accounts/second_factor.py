"""The second sign-in factor (django-otp): an authenticator app (TOTP) and single-use recovery codes.

Staff (owner, support) must pass it on every page; a customer user passes it once they have turned it on.
Wrong codes are throttled per device by django-otp (1, 2, 4, 8... seconds) and also count as failed
sign-ins for django-axes, so guessing codes ends in the same lock-out as guessing passwords.
"""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass

import segno
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from ops import audit

APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10


def is_required(user: User) -> bool:
    """Staff always need the second factor; a customer user once they have set one up."""
    return user.is_staff_member or has_any_device(user)


def has_app(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def has_any_device(user: User) -> bool:
    """An app or recovery codes: someone with either must pass a code before setting up a new app."""
    return user_has_device(user, confirmed=True)


def pending_app_device(user: User) -> TOTPDevice:
    """The authenticator app being set up (not yet confirmed by a first code): the same secret until confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)


def qr_code_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as inline SVG markup, for the authenticator app to scan."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, border=2, title="Scan with your app")


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, grouped by four, for apps that cannot scan."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str = ""


def _normalise(code: str) -> str:
    return "".join(code.split()).lower()


def _refused(device) -> str | None:
    allowed, _ = device.verify_is_allowed()
    return None if allowed else "Too many wrong codes: wait a few seconds and try again."


@transaction.atomic
def app_confirm(*, request, device: TOTPDevice, code: str) -> tuple[Outcome, list[str]]:
    """Confirm the app with its first code: the app is on, the session is verified and new recovery codes are made.

    Returns the outcome and the recovery codes (shown once).
    """
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=request.user, confirmed=False)
    refusal = _refused(device)
    if refusal:
        return Outcome(False, refusal), []
    if not device.verify_token(_normalise(code)):
        _count_failure(request)
        return Outcome(False, "That code is not right: type the six digits your app shows now."), []
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=request.user).exclude(pk=device.pk).delete()
    codes = _new_recovery_codes(request.user)
    otp_login(request, device)
    audit.record(action="second_factor.enrol", actor=request.user, target=request.user, customer=request.user.customer)
    return Outcome(True), codes


@transaction.atomic
def recovery_codes_renew(*, request) -> list[str]:
    """Replace the user's recovery codes with new ones (the old stop working); shown once."""
    codes = _new_recovery_codes(request.user)
    audit.record(
        action="second_factor.recovery_codes_renew",
        actor=request.user,
        target=request.user,
        customer=request.user.customer,
    )
    return codes


@transaction.atomic
def second_factor_disable(*, request) -> None:
    """A customer user turns the second factor off (staff may not: it is required for them)."""
    user = request.user
    if user.is_staff_member:
        raise PermissionError("Staff must keep their second factor.")
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit.record(action="second_factor.disable", actor=user, target=user, customer=user.customer)


def verify(*, request, code: str) -> Outcome:
    """Check a code from the app or a recovery code (used up); on success the session is verified."""
    user = request.user
    code = _normalise(code)
    devices = [*TOTPDevice.objects.filter(user=user, confirmed=True), *StaticDevice.objects.filter(user=user)]
    refusals = [_refused(device) for device in devices]
    if devices and all(refusals):
        return Outcome(False, refusals[0])
    for device, refusal in zip(devices, refusals, strict=True):
        if refusal:
            continue
        with transaction.atomic():
            locked = type(device).objects.select_for_update().get(pk=device.pk)
            if locked.verify_token(code):
                otp_login(request, locked)
                if isinstance(locked, StaticDevice):
                    audit.record(
                        action="second_factor.recovery_code_used", actor=user, target=user, customer=user.customer
                    )
                return Outcome(True)
    _count_failure(request)
    return Outcome(False, "That code is not right: type the six digits your app shows now, or a recovery code.")


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user).count()


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _count_failure(request) -> None:
    """A wrong code is a failed sign-in for django-axes (same username and address as the password step)."""
    user_login_failed.send(sender=__name__, credentials={"username": request.user.get_username()}, request=request)

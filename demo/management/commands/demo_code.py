"""Print the current two-step sign-in code of the demo staff (demo mode only): their app's secret is known."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from demo.management.commands.seed_demo import DEMO_TOTP_KEYS


class Command(BaseCommand):
    help = "Print the current authenticator code of the demo logins owner and support (demo mode only)."

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="*", default=sorted(DEMO_TOTP_KEYS))

    def handle(self, *args, usernames: list[str], **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_code only runs in demo mode (DEBUG=true or DEMO_MODE=true), never in production.")
        for username in usernames:
            if username not in DEMO_TOTP_KEYS:
                raise CommandError(f"{username} is not a demo staff login (choose from {', '.join(DEMO_TOTP_KEYS)}).")
            device = TOTPDevice.objects.filter(
                user__username=username, key=DEMO_TOTP_KEYS[username], confirmed=True
            ).first()
            if device is None:
                raise CommandError(f"{username} has no demo authenticator: run `python manage.py seed_demo` first.")
            totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
            left = device.step - int(time.time() - device.t0) % device.step
            self.stdout.write(f"{username:8} {totp.token():0{device.digits}d}  (valid for {left} s more)")

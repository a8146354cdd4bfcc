"""Idempotent demo data for the embedded default: staff, two customers and their logins."""

from __future__ import annotations

from base64 import b32encode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Customer, Role, User
from accounts.second_factor import APP_DEVICE_NAME
from billing.models import LedgerEntry, Product
from billing.services import balance_top_up, product_create
from providers import registry
from providers.models import ProviderAccount

DEMO_STARTING_BALANCE_CENTS = 10_000
# Demo staff sign in with a second factor like real staff: an authenticator app with these known secrets
# (hex, as django-otp stores them), whose current code `python manage.py demo_code` prints.
DEMO_TOTP_KEYS = {
    "owner": "3132333435363738393031323334353637383930",
    "support": "3039383736353433323130393837363534333231",
}

DEMO_CUSTOMERS = [
    {"login": "alice", "name": "Alice Analytics Ltd", "email": "alice@example.com"},
    {"login": "bob", "name": "Bob's Sneaker Bots", "email": "bob@example.com"},
]


class Command(BaseCommand):
    help = "Create the demo logins (owner, support, alice, bob) and customers; safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--prepare-inventory",
            action="store_true",
            help="queue a task that syncs the sandbox accounts and assigns demo proxies to alice and bob",
        )

    def handle(self, *args, prepare_inventory: bool = False, **options):
        if not settings.DEMO_MODE:
            raise CommandError("seed_demo only runs in demo mode (DEBUG=true or DEMO_MODE=true), never in production.")
        with transaction.atomic():
            for user in (
                self._user("owner", "owner@example.com", Role.OWNER, superuser=True),
                self._user("support", "support@example.com", Role.SUPPORT),
            ):
                self._demo_app(user)
            # Each integration says which sandbox accounts and products the demo has (SANDBOX.md credentials).
            account_names = []
            for integration in registry.all_integrations():
                for spec in integration.demo_accounts():
                    account = self._provider_account(integration, spec)
                    account_names.append(account.name)
                    for product in integration.demo_products():
                        self._product(account, product)
            for spec in DEMO_CUSTOMERS:
                customer, _ = Customer.objects.get_or_create(
                    name=spec["name"], defaults={"contact_email": spec["email"]}
                )
                self._user(spec["login"], spec["email"], Role.CUSTOMER, customer=customer)
                if not LedgerEntry.objects.filter(customer=customer).exists():
                    balance_top_up(
                        customer=customer, amount_cents=DEMO_STARTING_BALANCE_CENTS, actor=None, note="Demo credit"
                    )
        if prepare_inventory:
            from demo.tasks import prepare_demo_inventory

            prepare_demo_inventory.delay(account_names)
            self.stdout.write("Queued: sync of the sandbox accounts and demo proxies for alice and bob.")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {settings.DEMO_PASSWORD}):"))
        for line in (
            "  owner    owner / admin: /staff/ and /admin/",
            "  support  support staff: /staff/",
            "  alice    customer Alice Analytics Ltd: /portal/",
            "  bob      customer Bob's Sneaker Bots: /portal/",
            "Staff also type a code from an authenticator app (two-step sign-in):",
            "  .venv/bin/python manage.py demo_code   prints the current code of owner and support",
            *(
                f"  or add the key {b32encode(bytes.fromhex(key)).decode()} for {name} to an authenticator app"
                for name, key in DEMO_TOTP_KEYS.items()
            ),
            f"Provider accounts point at the sandbox on {settings.SANDBOX_URL}.",
        ):
            self.stdout.write(line)

    def _provider_account(self, integration: registry.Integration, spec: dict) -> ProviderAccount:
        base_url = settings.SANDBOX_URL.rstrip("/") + integration.sandbox_path
        existing = ProviderAccount.objects.filter(name=spec["name"]).first()
        if existing:
            # Follow the sandbox to another port; keep whatever else staff changed.
            ProviderAccount.objects.filter(pk=existing.pk).update(base_url=base_url)
            return existing
        account = ProviderAccount(
            name=spec["name"], kind=integration.kind, base_url=base_url, username=spec.get("username", "")
        )
        account.secret = spec["secret"]
        account.save()
        return account

    def _product(self, account: ProviderAccount, spec: dict) -> None:
        if Product.objects.filter(name=spec["name"]).exists():
            return
        product_create(actor=None, account=account, **spec)

    def _demo_app(self, user: User) -> None:
        """A confirmed authenticator app with the demo's known secret, so `demo_code` can tell its code."""
        from django_otp.plugins.otp_totp.models import TOTPDevice

        TOTPDevice.objects.get_or_create(
            user=user,
            confirmed=True,
            key=DEMO_TOTP_KEYS[user.username],
            defaults={"name": APP_DEVICE_NAME},
        )

    def _user(self, username: str, email: str, role: str, *, customer=None, superuser: bool = False) -> User:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "email": email,
                "role": role,
                "customer": customer,
                "is_staff": superuser,
                "is_superuser": superuser,
            },
        )
        if created:
            user.set_password(settings.DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

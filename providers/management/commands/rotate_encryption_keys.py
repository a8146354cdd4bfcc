"""Re-encrypt provider secrets with the first key of FIELD_ENCRYPTION_KEYS (after adding a new key first)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from providers import crypto, services


class Command(BaseCommand):
    help = "Re-encrypt every provider secret with the current key; then the old keys can be removed."

    def handle(self, *args, **options):
        try:
            count = services.provider_secrets_reencrypt()
        except crypto.SecretUnreadable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Re-encrypted {count} provider secret(s) with the current key.")

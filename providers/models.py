"""Our accounts at the upstream providers; their secrets are encrypted at rest and never shown."""

from __future__ import annotations

from django.db import models

from providers import crypto, registry


class ProviderAccount(models.Model):
    """One login at one upstream. `username` only for integrations that sign in with one (Basic auth)."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=registry.provider_kind_choices)
    base_url = models.URLField(max_length=300)
    username = models.CharField(max_length=200, blank=True)
    secret_encrypted = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    low_balance_threshold_cents = models.PositiveIntegerField(
        default=0, help_text="Warn staff when the upstream balance falls below this (0 = never)."
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # The upstream money balance as last read (a check, or the foresight task), so pages never wait on upstream.
    balance_cents = models.BigIntegerField(null=True, blank=True, editable=False)
    balance_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def __repr__(self) -> str:
        return f"<ProviderAccount {self.pk} {self.kind} {self.name!r}>"

    @property
    def integration(self) -> registry.Integration:
        return registry.for_account(self)

    @property
    def secret(self) -> str:
        """The decrypted password or API key; only services read it, to build a client."""
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

"""Staff form for provider accounts: the secret is write-only (never rendered back)."""

from __future__ import annotations

from django import forms

from providers import registry
from providers.models import ProviderAccount


class ProviderAccountForm(forms.ModelForm):
    secret = forms.CharField(
        label="Password or API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: it is encrypted and never shown again.",
    )

    base_url = forms.URLField(
        max_length=300,
        assume_scheme="https",
        help_text="The provider's API base URL, or the sandbox's (e.g. http://127.0.0.1:8100/shop).",
    )

    class Meta:
        model = ProviderAccount
        fields = ["name", "kind", "base_url", "username", "enabled", "low_balance_threshold_cents"]
        help_texts = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The providers that sign in with a username, for the help text and the refusal alike.
        self.username_users = " and ".join(i.label for i in registry.all_integrations() if i.uses_username)
        self.fields["username"].help_text = f"{self.username_users} only (Basic auth user)."
        if self.instance.pk and self.instance.has_secret:
            self.fields[
                "secret"
            ].help_text = "A secret is stored. Leave blank to keep it; type a new one to replace it."

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if not cleaned.get("secret") and not (self.instance.pk and self.instance.has_secret):
            self.add_error("secret", "Enter the password or API key for this account.")
        if not kind:
            return cleaned
        integration = registry.get(kind)
        if integration.uses_username and not cleaned.get("username"):
            self.add_error("username", f"{integration.label} needs the Basic auth username.")
        if not integration.uses_username and cleaned.get("username"):
            users = self.username_users or "no"
            self.add_error("username", f"Only {users} accounts use a username; leave it empty.")
        return cleaned

"""The iProxy account's basic info form; each field is checked with `integrations.iproxy.rules`."""

from __future__ import annotations

from typing import Any

from django import forms

from integrations.iproxy import rules

FIELDS = ("display_name", "telegram", "proxy_prefix")
LABELS = {"display_name": "display name", "telegram": "Telegram", "proxy_prefix": "proxy prefix"}


class AccountBasicInfoForm(forms.Form):
    """Only the fields that differ from what iProxy shows now are sent; an emptied field is left alone
    (the API takes 1 to 256 characters, so a value cannot be removed)."""

    display_name = forms.CharField(label="Display name", required=False, max_length=256)
    telegram = forms.CharField(label="Telegram", required=False, max_length=256, help_text="e.g. @username")
    proxy_prefix = forms.CharField(label="Proxy prefix", required=False, max_length=256)

    def __init__(self, *args: Any, current: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, initial=current, **kwargs)
        self.current = current
        self.changes: dict[str, str] = {}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        changes = {name: cleaned[name] for name in FIELDS if cleaned.get(name) and cleaned[name] != self.current[name]}
        for violation in rules.check_user_basic_info(changes):
            self.add_error(violation.field or None, violation.message if violation.field else "Nothing to change.")
        self.changes = changes
        return cleaned

"""Portal forms: the preferences grid (a checkbox per kind and channel) and a new webhook endpoint."""

from __future__ import annotations

from django import forms

from notifications import services
from notifications.models import Channel, Kind

# What customers are told about; phones offline stay ours to fix (inventory.alerts tells staff only).
CUSTOMER_KINDS = [(kind, label) for kind, label in Kind.choices if kind != Kind.OFFLINE]


def field_name(kind: str, channel: str) -> str:
    return f"{kind}__{channel}"


class PreferencesForm(forms.Form):
    def __init__(self, *args, initial_channels: dict[str, list[str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind, label in CUSTOMER_KINDS:
            for channel, channel_label in Channel.choices:
                self.fields[field_name(kind, channel)] = forms.BooleanField(
                    required=False,
                    label=f"{label} by {channel_label.lower()}",
                    initial=channel in initial_channels.get(kind, []),
                )
        self.initial_channels = initial_channels

    def rows(self):
        """(label, [bound field per channel]) for the grid template."""
        return [
            (label, [self[field_name(kind, channel)] for channel in Channel.values]) for kind, label in CUSTOMER_KINDS
        ]

    def channels(self) -> dict[str, list[str]]:
        chosen = {
            kind: [channel for channel in Channel.values if self.cleaned_data[field_name(kind, channel)]]
            for kind, _ in CUSTOMER_KINDS
        }
        # Kinds not on the grid keep what they had.
        return {**self.initial_channels, **chosen}


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label="Endpoint URL", max_length=500, assume_scheme="https")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        refusal = services.webhook_url_refusal(url)
        if refusal:
            raise forms.ValidationError(refusal)
        return url

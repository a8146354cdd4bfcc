"""Forms for proxy shop subscription actions; every check is a rule from `integrations.proxyshop.rules`."""

from __future__ import annotations

from typing import Any

from django import forms

from integrations.proxyshop import rules


def _raise_first(violations: list[rules.RuleViolation]) -> None:
    if violations:
        raise forms.ValidationError([violation.message for violation in violations])


class RotationPolicyForm(forms.Form):
    """How often the exit IP changes by itself (0 turns auto-rotation off)."""

    rotation_policy = forms.IntegerField(
        label="Auto-rotate the IP",
        widget=forms.Select(
            choices=[
                (minutes, f"every {minutes} minutes" if minutes else "never") for minutes in rules.ROTATION_POLICIES
            ]
        ),
    )

    def clean_rotation_policy(self) -> int:
        value = self.cleaned_data["rotation_policy"]
        _raise_first(rules.rotation_policy_violations(value))
        return value


class SwitchNetworkForm(forms.Form):
    """The network to move to, among those the shop offers for this subscription."""

    target_network = forms.CharField(label="Network", widget=forms.Select)

    def __init__(self, *args: Any, networks: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.network_ids = [network_id for network_id, _ in networks]
        self.fields["target_network"].widget.choices = networks

    def clean_target_network(self) -> str:
        value = self.cleaned_data["target_network"]
        _raise_first(rules.id_violations("target_network", value))
        if value not in self.network_ids:
            raise forms.ValidationError("is not a network this subscription can switch to")
        return value

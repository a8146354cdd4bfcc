"""Inventory forms: staff filters and assignment."""

from __future__ import annotations

from django import forms

from accounts.models import Customer
from inventory.models import ResourceStatus
from providers import registry
from providers.models import ProviderAccount


class ResourceFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    kind = forms.ChoiceField(required=False, choices=lambda: [("", "Any kind"), *registry.resource_kind_choices()])
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ResourceStatus.choices])
    customer = forms.ChoiceField(required=False)
    account = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].choices = [
            ("", "Any customer"),
            ("none", "Unassigned"),
            *((str(c.pk), c.name) for c in Customer.objects.order_by("name")),
        ]
        self.fields["account"].choices = [
            ("", "Any account"),
            *((str(a.pk), a.name) for a in ProviderAccount.objects.order_by("name")),
        ]


class AssignForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(status=Customer.Status.ACTIVE).order_by("name"),
        required=False,
        empty_label="— nobody (keep in stock) —",
        help_text="Only active customers can receive proxies.",
    )

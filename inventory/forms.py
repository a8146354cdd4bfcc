"""Inventory forms: staff filters and assignment."""

from __future__ import annotations

from django import forms

from accounts.models import Customer
from inventory.models import BulkJob, DriftItem, ResourceStatus
from inventory.presenters import EXPORT_FORMATS
from providers import registry
from providers.models import ProviderAccount


class ResourceFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        help_text="Name, upstream id or customer name.",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    kind = forms.ChoiceField(required=False, choices=lambda: [("", "Any kind"), *registry.resource_kind_choices()])
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ResourceStatus.choices])
    customer = forms.ChoiceField(required=False)
    account = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Not every customer (there may be 100,000): "unassigned", and the one a link from a customer's
        # page asked for; the search box finds resources by customer name.
        chosen = str((self.data or {}).get("customer", ""))
        self.fields["customer"].choices = [
            ("", "Any customer"),
            ("none", "Unassigned"),
            *((str(c.pk), c.name) for c in (Customer.objects.filter(pk=chosen) if chosen.isdigit() else ())),
        ]
        self.fields["account"].choices = [
            ("", "Any account"),
            *((str(a.pk), a.name) for a in ProviderAccount.objects.order_by("name")),
        ]

    def criteria(self) -> dict[str, str]:
        """The selector's keyword arguments (empty when the form is invalid: the whole list)."""
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "search": data.get("q", "").strip(),
            "kind": data.get("kind", ""),
            "status": data.get("status", ""),
            "customer_id": data.get("customer", ""),
            "account_id": data.get("account", ""),
        }


class PortalFilterForm(forms.Form):
    q = forms.CharField(
        required=False, label="Search", max_length=100, widget=forms.TextInput(attrs={"type": "search"})
    )
    kind = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ResourceStatus.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sold = set(registry.sold_resource_kinds())
        self.fields["kind"].choices = [
            ("", "Any type"),
            *((value, label) for value, label in registry.resource_kind_choices() if value in sold),
        ]

    def criteria(self) -> dict[str, str]:
        data = self.cleaned_data if self.is_valid() else {}
        return {"search": data.get("q", "").strip(), "kind": data.get("kind", ""), "status": data.get("status", "")}


class CustomerField(forms.CharField):
    """An active customer by id or contact email (a text box: there may be 100,000 customers); empty = nobody."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def clean(self, value) -> Customer | None:
        given = super().clean(value).strip()
        if not given:
            return None
        found = (
            Customer.objects.filter(pk=int(given))
            if given.isdigit()
            else Customer.objects.filter(contact_email__iexact=given)
        )
        matches = list(found[:2])
        if not matches:
            raise forms.ValidationError(f"No customer has the id or contact email “{given}”.")
        if len(matches) > 1:
            raise forms.ValidationError(f"More than one customer has the contact email “{given}”: use the id.")
        if not matches[0].is_active:
            raise forms.ValidationError(f"{matches[0].name} is suspended: only active customers can receive proxies.")
        return matches[0]


class AssignForm(forms.Form):
    customer = CustomerField(
        label="Customer",
        help_text="The customer's id or contact email; empty keeps it in stock. Only active customers can receive "
        "proxies.",
    )


class BulkForm(forms.Form):
    """A bulk action on the rows ticked on the staff list, or on every row its filter matches."""

    action = forms.ChoiceField(choices=BulkJob.Action.choices)
    ids = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())
    all_matching = forms.BooleanField(required=False, label="All rows matching the filter")
    filter_query = forms.CharField(required=False, widget=forms.HiddenInput)
    customer = CustomerField(
        label="Customer", help_text="Assign: the customer's id or contact email; empty puts the rows back in stock."
    )
    gb = forms.IntegerField(required=False, min_value=1, max_value=10_000, label="GB", help_text="Add GB: whole GB.")
    export_format = forms.ChoiceField(
        required=False, label="Format", choices=[(f.key, f.label) for f in EXPORT_FORMATS.values()]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any ids: the view only uses ones that exist (the list can hold 100,000 rows).
        self.fields["ids"].valid_value = lambda value: str(value).isdigit()

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if not data.get("ids") and not data.get("all_matching"):
            raise forms.ValidationError("Tick the rows to act on, or “all rows matching the filter”.")
        if action == BulkJob.Action.ADD_GB and not data.get("gb"):
            self.add_error("gb", "Say how many GB to add.")
        if action == BulkJob.Action.EXPORT and not data.get("export_format"):
            self.add_error("export_format", "Choose an export format.")
        return data


class DriftFilterForm(forms.Form):
    """The drift queue's filters: open items by default."""

    state = forms.ChoiceField(required=False, choices=[*DriftItem.State.choices, ("all", "Every state")])
    provider = forms.ChoiceField(
        required=False, choices=lambda: [("", "Any provider"), *registry.provider_kind_choices()]
    )
    account = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [
            ("", "Any account"),
            *((str(a.pk), a.name) for a in ProviderAccount.objects.order_by("name")),
        ]

    def criteria(self) -> dict[str, str]:
        data = self.cleaned_data if self.is_valid() else {}
        state = data.get("state") or DriftItem.State.OPEN
        return {
            "state": "" if state == "all" else state,
            "provider": data.get("provider", ""),
            "account_id": data.get("account", ""),
        }

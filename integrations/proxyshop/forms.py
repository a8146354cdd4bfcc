"""Forms for proxy shop subscription actions; every check is a rule from `integrations.proxyshop.rules`."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Customer
from integrations.proxyshop import rules
from inventory import submissions


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


# Buying and renewing (staff) -------------------------------------------------------------------------


def _customer_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Customer.objects.filter(status=Customer.Status.ACTIVE).order_by("name"),
        required=False,
        empty_label="— nobody (keep in stock) —",
        help_text="What is bought is assigned to this customer at once.",
    )


class _PricedForm(forms.Form):
    """Common to purchase and renew: how many periods, the coupon, and the two steps (preview, confirm).

    The confirm step posts these fields again, hidden, with `confirmed_cents` (the total it showed) beside
    them: only a post whose total still matches is sent, so a price that moved is shown again first.

        The shop's API does not tell what a coupon is worth before it is used: staff may type the discount
        the coupon promises to see the net price; the shop alone decides what it takes.
    """

    repeat_count = forms.IntegerField(
        label="Periods",
        initial=1,
        help_text=f"Multiplies the plan's duration and price (1 to {rules.MAX_REPEAT_COUNT}).",
    )
    coupon_code = forms.CharField(label="Coupon", required=False, max_length=60)
    coupon_percent = forms.IntegerField(
        label="Coupon discount (%)",
        required=False,
        min_value=0,
        max_value=100,
        help_text="What the coupon promises, for the price shown before confirming (the shop applies the real one).",
    )
    request_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("request_key", submissions.new_key())

    def clean_repeat_count(self) -> int:
        value = self.cleaned_data["repeat_count"]
        _raise_first(rules.count_violations("repeat_count", value, rules.MAX_REPEAT_COUNT))
        return value

    def clean_coupon_code(self) -> str | None:
        value = self.cleaned_data.get("coupon_code", "").strip()
        if not value:
            return None
        _raise_first(rules.coupon_code_violations(value))
        return value

    @property
    def discount_percent(self) -> int:
        return (self.cleaned_data.get("coupon_percent") or 0) if self.cleaned_data.get("coupon_code") else 0

    def confirm_fields(self) -> dict[str, Any]:
        """The posted choices, for the hidden fields of the confirm step."""
        return {name: self.data.get(name, "") for name in self.fields}


class PurchaseForm(_PricedForm):
    """A purchase on the shop: plan, how many, periods, coupon; optionally straight for a customer."""

    plan_id = forms.CharField(label="Plan", widget=forms.Select)
    quantity = forms.IntegerField(label="How many", initial=1, help_text=f"1 to {rules.MAX_QUANTITY} subscriptions.")
    field_order = ["plan_id", "quantity", "repeat_count", "coupon_code", "coupon_percent", "customer"]

    def __init__(self, *args: Any, plans: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan_ids = [plan_id for plan_id, _ in plans]
        self.fields["plan_id"].widget.choices = plans
        self.fields["customer"] = _customer_field()
        self.order_fields(self.field_order)

    def clean_plan_id(self) -> str:
        value = self.cleaned_data["plan_id"]
        _raise_first(rules.id_violations("plan_id", value))
        if value not in self.plan_ids:
            raise forms.ValidationError("is not a plan the shop sells now")
        return value

    def clean_quantity(self) -> int:
        value = self.cleaned_data["quantity"]
        _raise_first(rules.count_violations("quantity", value, rules.MAX_QUANTITY))
        return value

    def action_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "plan_id": data["plan_id"],
            "quantity": data["quantity"],
            "repeat_count": data["repeat_count"],
            "coupon_code": data["coupon_code"],
            "customer": data["customer"],
        }


class RenewForm(_PricedForm):
    """A renewal of one subscription with one of the plans the shop offers for it."""

    plan_id = forms.CharField(label="Renewal plan", widget=forms.Select)
    field_order = ["plan_id", "repeat_count", "coupon_code", "coupon_percent"]

    def __init__(self, *args: Any, plans: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan_ids = [plan_id for plan_id, _ in plans]
        self.fields["plan_id"].widget.choices = plans
        self.order_fields(self.field_order)

    def clean_plan_id(self) -> str:
        value = self.cleaned_data["plan_id"]
        _raise_first(rules.id_violations("plan_id", value))
        if value not in self.plan_ids:
            raise forms.ValidationError("is not a plan this subscription can be renewed with")
        return value

    def action_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"plan_id": data["plan_id"], "repeat_count": data["repeat_count"], "coupon_code": data["coupon_code"]}


class TrialForm(forms.Form):
    """The trial button of a plan on the plans page."""

    plan_id = forms.CharField()
    request_key = forms.CharField()

    def __init__(self, *args: Any, plan_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan_ids = plan_ids

    def clean_plan_id(self) -> str:
        value = self.cleaned_data["plan_id"]
        _raise_first(rules.id_violations("plan_id", value))
        if value not in self.plan_ids:
            raise forms.ValidationError("is not a plan the shop lists now")
        return value

"""The portal's top-up form: an amount typed as a decimal, handed to the services in minor units."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from billing.forms import to_cents
from billing.models import format_money
from payments.models import PaymentStatus
from payments.services import top_up_limits


class TopUpAmountForm(forms.Form):
    amount = forms.DecimalField(decimal_places=2, max_digits=12, min_value=Decimal("0.01"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = top_up_limits()
        self.fields["amount"].help_text = f"From {format_money(low)} to {format_money(high)}."
        self.fields["amount"].widget.attrs.update(
            {"min": f"{low / 100:.2f}", "max": f"{high / 100:.2f}", "step": "0.01"}
        )

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        low, high = top_up_limits()
        if to_cents(amount) < low:
            raise forms.ValidationError(f"The smallest top-up is {format_money(low)}.")
        if to_cents(amount) > high:
            raise forms.ValidationError(f"The largest top-up is {format_money(high)}. For more, please contact us.")
        return amount

    @property
    def amount_cents(self) -> int:
        return to_cents(self.cleaned_data["amount"])


class PaymentFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "All payments"), *PaymentStatus.choices], required=False)

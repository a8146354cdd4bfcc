"""Staff forms for customers."""

from __future__ import annotations

from django import forms

from accounts.models import Customer


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["name", "contact_email", "status", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

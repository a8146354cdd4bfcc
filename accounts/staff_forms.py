"""Staff forms for customers."""

from __future__ import annotations

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator as UsernameValidator

from accounts.models import Customer, User


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["name", "contact_email", "status", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}


class CustomerLoginForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    email = forms.EmailField(help_text="We email this address a link to choose a password.")

    def clean_username(self):
        username = self.cleaned_data["username"]
        UsernameValidator()(username)
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That username is taken.")
        return username

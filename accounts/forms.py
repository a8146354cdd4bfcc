"""Account forms: login refuses users of suspended customers with a clear message."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "customer_suspended": "This customer account is suspended. Please contact support.",
    }

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if user.is_customer_user and not user.customer.is_active:
            raise forms.ValidationError(self.error_messages["customer_suspended"], code="customer_suspended")

from __future__ import annotations

from django.contrib import admin

from providers.forms import ProviderAccountForm
from providers.models import ProviderAccount


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    """The secret is write-only here too: the form never renders it back."""

    form = ProviderAccountForm
    list_display = ("name", "kind", "base_url", "enabled", "last_checked_at", "last_error")
    list_filter = ("kind", "enabled")
    readonly_fields = ("last_checked_at", "last_error", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        if form.cleaned_data.get("secret"):
            obj.secret = form.cleaned_data["secret"]
        super().save_model(request, obj, form, change)

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import api_keys
from accounts.models import ApiKey, Customer, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Role", {"fields": ("role", "customer")}))
    list_display = ("username", "email", "role", "customer", "is_active")
    list_filter = ("role", "is_active")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "contact_email", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "contact_email")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Owners see every customer API key and can revoke one (a leaked key); keys are made only in the portal."""

    list_display = ("name", "prefix", "user", "can_write", "created_at", "last_used_at", "revoked_at")
    list_filter = ("can_write", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix", "user__username", "user__customer__name")
    readonly_fields = ("user", "name", "prefix", "can_write", "created_at", "last_used_at", "revoked_at")
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected keys (they stop at once)")
    def revoke(self, request, queryset):
        for key in queryset.select_related("user__customer"):
            api_keys.api_key_revoke(key=key, actor=request.user)

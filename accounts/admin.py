from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import Customer, User


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

"""Admin for billing: products are editable; orders and ledger entries are read-only (services write them)."""

from __future__ import annotations

from django.contrib import admin

from billing.models import LedgerEntry, Order, Product
from ops.admin import ReadOnlyAdmin


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "account", "price_cents", "renewal_price_cents", "active")
    list_filter = ("kind", "active")
    search_fields = ("name",)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("pk", "created_at", "customer", "kind", "product", "price_cents", "state", "upstream_ref")
    list_filter = ("state", "kind")
    search_fields = ("customer__name", "idempotency_key", "upstream_ref")
    list_select_related = ("customer", "product")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Append-only: no change, no delete; corrections are adjustments made in the staff pages."""

    list_display = ("created_at", "customer", "kind", "amount_cents", "order", "note", "actor")
    list_filter = ("kind",)
    search_fields = ("customer__name", "note")
    list_select_related = ("customer", "order", "actor")

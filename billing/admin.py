"""Admin for billing: products are editable; orders and ledger entries are read-only (services write them)."""

from __future__ import annotations

from django.contrib import admin

from billing.models import AutoRenewal, AutoTopUp, LedgerEntry, Order, OrderLane, Product, ResourceClaim, SpendingCap
from ops.admin import ReadOnlyAdmin


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "account", "price_cents", "renewal_price_cents", "active")
    list_filter = ("kind", "active")
    search_fields = ("name",)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "created_at",
        "customer",
        "kind",
        "trigger",
        "product",
        "price_cents",
        "state",
        "upstream_ref",
    )
    list_filter = ("state", "kind", "trigger")
    search_fields = ("customer__name", "idempotency_key", "upstream_ref")
    list_select_related = ("customer", "product")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Append-only: no change, no delete; corrections are adjustments made in the staff pages."""

    list_display = (
        "created_at",
        "customer",
        "sequence",
        "kind",
        "amount_cents",
        "balance_after_cents",
        "order",
        "note",
    )
    list_filter = ("kind",)
    search_fields = ("customer__name", "note")
    list_select_related = ("customer", "order")


@admin.register(ResourceClaim)
class ResourceClaimAdmin(ReadOnlyAdmin):
    """Which order each bought resource settled (written by settlement, never by hand)."""

    list_display = ("created_at", "order", "resource")
    list_select_related = ("order", "resource")


@admin.register(OrderLane)
class OrderLaneAdmin(ReadOnlyAdmin):
    list_display = ("key", "holder", "holder_order", "lease_until")


@admin.register(SpendingCap, AutoRenewal, AutoTopUp)
class AutomaticOrdersAdmin(ReadOnlyAdmin):
    """The customers' own settings for automatic orders: set in the portal."""

"""Admin for online payments: read-only (the services and the verified webhook write them)."""

from __future__ import annotations

from django.contrib import admin

from ops.admin import ReadOnlyAdmin
from payments.models import Payment, PaymentEvent


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("pk", "created_at", "customer", "amount_cents", "status", "refunded_cents", "dispute_status")
    list_filter = ("status", "dispute_status", "gateway")
    search_fields = ("customer__name", "reference", "payment_ref")
    list_select_related = ("customer",)


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "gateway", "type", "event_id", "payment", "outcome")
    list_filter = ("gateway", "type")
    search_fields = ("event_id",)

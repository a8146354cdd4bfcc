"""Read-only admin for what was told to whom and how each delivery went; secrets (webhook secrets, link codes)
are never shown."""

from __future__ import annotations

from django.contrib import admin

from notifications.models import Delivery, DeliveryAttempt, Notification, Preference, TelegramLink, WebhookEndpoint
from ops.admin import ReadOnlyAdmin, ReadOnlyInline


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = ("channel", "target", "status", "attempts", "last_status_code", "error", "sent_at")
    show_change_link = True


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "event", "subject", "user", "customer", "read_at")
    list_filter = ("kind", "event")
    search_fields = ("subject", "key", "user__username", "customer__name")
    list_select_related = ("user", "customer")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Notification._meta.fields]
    inlines = [DeliveryInline]


class AttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ("at", "ok", "status_code", "response_excerpt", "error")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "target", "status", "attempts", "last_status_code", "sent_at")
    list_filter = ("channel", "status")
    search_fields = ("target", "notification__subject")
    list_select_related = ("notification",)
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [AttemptInline]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("url", "user", "enabled", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "user__username")
    list_select_related = ("user",)
    exclude = ("secret",)
    readonly_fields = ("user", "url", "enabled", "created_at")


@admin.register(TelegramLink)
class TelegramLinkAdmin(ReadOnlyAdmin):
    list_display = ("user", "chat_name", "chat_id", "linked_at")
    search_fields = ("user__username", "chat_name")
    list_select_related = ("user",)
    exclude = ("code",)  # a pending link code would let anyone link their chat to this login
    readonly_fields = ("user", "code_created_at", "chat_id", "chat_name", "linked_at")


@admin.register(Preference)
class PreferenceAdmin(ReadOnlyAdmin):
    list_display = ("user", "updated_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    readonly_fields = ("user", "channels", "updated_at")

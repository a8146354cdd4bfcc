"""Read-mostly admin for the mirror: the sync owns every column except `customer`, and sync runs are history."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from inventory.alerts import alert_acknowledge
from inventory.assignment import resource_assign
from inventory.models import Alert, BulkItem, BulkJob, Resource, SyncRun
from ops.admin import ReadOnlyAdmin, ReadOnlyInline
from ops.audit import REDACTED, redact

# Beyond the audit log's secret-looking keys: shop protocol URLs embed the password, rotate links are secrets.
EMBEDDED_SECRET_KEYS = ("protocol", "rotate", "vpn")


def redact_upstream(data: Any) -> Any:
    """The upstream answer with every credential, credential-bearing URL and link replaced."""
    if isinstance(data, Mapping):
        return {
            key: REDACTED if any(part in str(key).lower() for part in EMBEDDED_SECRET_KEYS) else redact_upstream(value)
            for key, value in redact(data).items()
        }
    if isinstance(data, list | tuple):
        return [redact_upstream(value) for value in data]
    return data


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ("label", "kind", "status", "account", "customer", "expires_at", "last_synced_at")
    list_filter = ("kind", "status", "account")
    search_fields = ("upstream_id", "label", "customer__name")
    list_select_related = ("account", "customer")
    autocomplete_fields = ("customer",)
    fields = (
        "account",
        "kind",
        "upstream_id",
        "parent",
        "customer",
        "label",
        "status",
        "expires_at",
        "data_used_bytes",
        "data_limit_bytes",
        "first_seen_at",
        "last_synced_at",
        "vanished_at",
        "upstream_redacted",
    )
    readonly_fields = tuple(name for name in fields if name != "customer")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Upstream (secrets redacted)")
    def upstream_redacted(self, obj: Resource) -> str:
        # The raw answer carries passwords and rotate links; the admin shows its shape, not those.
        return format_html("<pre>{}</pre>", json.dumps(redact_upstream(obj.upstream), indent=2, sort_keys=True))

    def save_model(self, request, obj, form, change) -> None:
        # Assignment goes through the service so it is audited like everywhere else.
        resource_assign(resource=obj, customer=obj.customer, actor=request.user)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "account",
        "started_at",
        "outcome",
        "seen",
        "created",
        "updated",
        "unchanged",
        "vanished",
        "problem_count",
        "duration_seconds",
    )
    list_filter = ("outcome", "account")
    list_select_related = ("account",)
    date_hierarchy = "started_at"
    exclude = ("problems",)
    readonly_fields = ("problem_rows",)

    @admin.display(description="Rows not mirrored as listed")
    def problem_rows(self, obj: SyncRun) -> str:
        if not obj.problems:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            ((p["kind"], p["upstream_id"], p["reason"]) for p in obj.problems),
        )
        more = obj.problem_count - len(obj.problems)
        tail = format_html("<p>and {} more</p>", more) if more > 0 else ""
        return format_html("<table><tr><th>kind</th><th>upstream id</th><th>reason</th></tr>{}</table>{}", rows, tail)


class BulkItemInline(ReadOnlyInline):
    model = BulkItem
    fields = ("resource", "outcome", "message", "finished_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("resource")


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    """Bulk jobs are history: started from the staff inventory list, run by a worker row by row."""

    list_display = ("created_at", "action", "actor", "customer", "gb", "export_format", "finished_at")
    list_filter = ("action",)
    list_select_related = ("actor", "customer")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in BulkJob._meta.fields]
    inlines = [BulkItemInline]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Alerts are the system's record of what it warned about: read here, acknowledged through the service."""

    list_display = ("created_at", "kind", "threshold", "customer", "delivery_status", "delivered_at", "acknowledged_at")
    list_filter = ("kind", "acknowledged_at", "delivered_at")
    search_fields = ("message", "subject", "customer__name")
    list_select_related = ("customer", "acknowledged_by")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Alert._meta.fields]
    actions = ["acknowledge"]

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request, queryset) -> None:
        done = sum(alert_acknowledge(alert=alert, actor=request.user) for alert in queryset)
        self.message_user(request, f"Acknowledged {done} alert(s).")

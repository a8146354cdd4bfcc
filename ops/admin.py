from __future__ import annotations

from django.contrib import admin

from ops.models import AuditEvent, WorkerHeartbeat


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "action", "target_type", "target_id", "customer")
    list_filter = ("action", "target_type")
    search_fields = ("actor_label", "action", "target_id")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    # The audit log is append-only, even for admins.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "seen_at", "hostname")

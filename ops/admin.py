from __future__ import annotations

from django.contrib import admin

from ops.models import AuditEvent, WorkerHeartbeat


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records nobody edits by hand, admins included: the audit log, orders, sync runs."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """The rows of a read-only record shown on its page (a delivery's attempts, a bulk job's items)."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_label", "action", "target_type", "target_id", "customer")
    list_filter = ("action", "target_type")
    search_fields = ("actor_label", "action", "target_id")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "seen_at", "hostname")

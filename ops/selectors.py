"""Reads of the audit trail: our business events (ops.AuditEvent) and the model diffs django-auditlog keeps."""

from __future__ import annotations

import datetime as dt

from auditlog.models import LogEntry
from django.db.models import QuerySet

from ops.models import AuditEvent

RESOURCE_TARGET = "inventory.resource"


def audit_events(
    *,
    actor: str = "",
    customer_ids: QuerySet | None = None,
    resource_id: int | None = None,
    action: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Business events by who (username, or "system"), for which customer or resource, what and when."""
    events = AuditEvent.objects.select_related("customer")
    if actor:
        events = events.filter(actor_label__iexact=actor)
    if customer_ids is not None:
        events = events.filter(customer_id__in=customer_ids)
    if resource_id is not None:
        events = events.filter(target_type=RESOURCE_TARGET, target_id=str(resource_id))
    if action:
        events = events.filter(action__startswith=action)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events


def audit_actions() -> list[str]:
    """Every action name recorded so far, for the filter's suggestions."""
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())


def model_changes(
    *,
    actor: str = "",
    model: str = "",
    object_ids: QuerySet | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[LogEntry]:
    """Saves of the tracked models (the admin site's included), by who, which model ("app.model") and when."""
    entries = LogEntry.objects.select_related("actor", "content_type")
    if actor.lower() == "system":
        entries = entries.filter(actor__isnull=True)
    elif actor:
        entries = entries.filter(actor__username__iexact=actor)
    if model:
        app_label, _, model_name = model.partition(".")
        entries = entries.filter(content_type__app_label=app_label, content_type__model=model_name)
    if object_ids is not None:
        entries = entries.filter(object_pk__in=object_ids)
    if since is not None:
        entries = entries.filter(timestamp__gte=since)
    if until is not None:
        entries = entries.filter(timestamp__lt=until)
    return entries

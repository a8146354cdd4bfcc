"""Writing the audit log: services call `record()` inside their transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ops.models import AuditEvent

SECRET_KEYS = ("password", "secret", "api_key", "apikey", "token_secret", "credentials", "link", "key")
REDACTED = "[redacted]"


def is_secret_key(key: Any) -> bool:
    """The one redaction policy: a key that looks like a secret (password, API key, token, link...)."""
    return any(part in str(key).lower() for part in SECRET_KEYS)


def redact(data: Any, *, hide: Any = is_secret_key, placeholder: str = REDACTED, keep_empty: bool = False) -> Any:
    """A copy of `data` with the value under every key `hide` picks replaced, at any depth.

    The audit log hides every secret-looking key; pages pass the exact keys of our own upstream
    secrets (`keep_empty` leaves an empty value visible, so staff can tell "none" from "hidden").
    """
    if isinstance(data, Mapping):
        return {
            key: placeholder
            if hide(key) and (value or not keep_empty)
            else redact(value, hide=hide, placeholder=placeholder, keep_empty=keep_empty)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [redact(value, hide=hide, placeholder=placeholder, keep_empty=keep_empty) for value in data]
    return data


def mask(value: Any) -> str:
    """django-auditlog's mask for secret fields: that it changed shows, never any part of the value."""
    return REDACTED


def record(
    *,
    action: str,
    actor=None,
    target: Any = None,
    target_type: str = "",
    target_id: str = "",
    customer=None,
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row. `target` (a model instance) fills target_type/target_id."""
    return AuditEvent.objects.create(
        **event_fields(
            action=action,
            actor=actor,
            target=target,
            target_type=target_type,
            target_id=target_id,
            customer=customer,
            data=data,
        )
    )


def event_fields(
    *,
    action: str,
    actor=None,
    target: Any = None,
    target_type: str = "",
    target_id: str = "",
    customer=None,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields of the audit row `record()` writes (secrets redacted), for a service whose own SQL writes
    the row in the same statement as what it audits (the ledger's append on PostgreSQL)."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    return {
        "actor": actor if getattr(actor, "pk", None) else None,
        "actor_label": getattr(actor, "username", "") or "system",
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "customer": customer,
        "data": redact(dict(data or {})),
    }

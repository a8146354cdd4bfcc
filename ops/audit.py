"""Writing the audit log: services call `record()` inside their transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ops.models import AuditEvent

SECRET_KEYS = ("password", "secret", "api_key", "apikey", "token_secret", "credentials", "link", "key")
REDACTED = "[redacted]"


def redact(data: Any) -> Any:
    """A copy of `data` with every value under a secret-looking key replaced."""
    if isinstance(data, Mapping):
        return {
            key: REDACTED if any(part in str(key).lower() for part in SECRET_KEYS) else redact(value)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [redact(value) for value in data]
    return data


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
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "username", "") or "system",
        action=action,
        target_type=target_type,
        target_id=target_id,
        customer=customer,
        data=redact(dict(data or {})),
    )

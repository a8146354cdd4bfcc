"""API keys of customer logins: create (the key is shown once), authenticate by hash, revoke at once."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.utils import timezone

from accounts.models import ApiKey, User
from ops import audit

# Visible in the key itself, so a leaked key is recognisable in logs and by secret scanners.
KEY_START = "prx_"


class ApiKeyError(Exception):
    """A key request the rules refuse; the message is fit to show the customer."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, user: User, name: str, can_write: bool, actor: User | None) -> tuple[ApiKey, str]:
    """A new key for a customer login; returns the row and the full key, which is never stored nor shown again."""
    name = name.strip()
    if not name:
        raise ApiKeyError("Give the key a name, so you can tell it apart later.")
    if not (user.is_customer_user and user.customer.is_active):
        raise ApiKeyError("API keys are for customer logins of active accounts.")
    prefix = KEY_START + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(user=user, name=name[:100], prefix=prefix, key_hash=_hash(secret), can_write=can_write)
    audit.record(
        action="accounts.api_key.create",
        actor=actor,
        target=key,
        customer=user.customer,
        data={"name": key.name, "prefix": prefix, "can_write": can_write},
    )
    return key, f"{prefix}.{secret}"


def api_key_revoke(*, key: ApiKey, actor: User | None) -> ApiKey:
    """Stop the key: the next request with it is refused (keys are checked on every request, never cached)."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(
            action="accounts.api_key.revoke",
            actor=actor,
            target=key,
            customer=key.user.customer,
            data={"name": key.name, "prefix": key.prefix},
        )
    return key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The live key this string is, with its user and customer; None for anything else (revoked, suspended)."""
    prefix, _, secret = (raw or "").strip().partition(".")
    if not prefix.startswith(KEY_START) or not secret:
        return None
    key = ApiKey.objects.select_related("user__customer").filter(prefix=prefix, revoked_at=None).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(secret)):
        return None
    user = key.user
    if not (user.is_active and user.is_customer_user and user.customer.is_active):
        return None
    now = timezone.now()
    # Written at most once a minute: a busy key does not turn every read into a write.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_keys_for_user(*, user: User):
    return ApiKey.objects.filter(user=user).order_by("revoked_at", "-created_at", "-id")

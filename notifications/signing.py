"""Signatures of our outbound webhooks: `X-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`.

The same scheme as Stripe's: the timestamp inside the signed text lets a receiver refuse replays.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "X-Signature"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def sign(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for this body."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(*, secret: str, body: bytes, header: str, now: int | None = None) -> bool:
    """What a receiver does: the signature matches and is recent (a reference for customers and tests)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))

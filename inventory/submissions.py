"""Staff forms that create something upstream are sent once: a reload or a double click finds the first result.

Each such form carries a random key rendered with the page. `claim()` takes the key atomically in the
cache before the upstream call; the view then `remember()`s what was created under it. A second post
with the same key gets `previous()` (the resource ids, or [] while the first post is still running)
instead of a second purchase. Nothing secret is kept: the created resources' ids only.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache

# Long enough for any reload of the page; the key is random, so an expired one is never reused by accident.
KEY_SECONDS = 24 * 3600
PENDING = 0


def new_key() -> str:
    return uuid.uuid4().hex


def _cache_key(scope: str, key: str) -> str:
    return f"submission:{scope}:{key}"


def claim(scope: str, key: str) -> bool:
    """True for the first post of this key; False when another post of it came first."""
    return cache.add(_cache_key(scope, key), PENDING, KEY_SECONDS)


def remember(scope: str, key: str, resource_ids: list[int]) -> None:
    cache.set(_cache_key(scope, key), list(resource_ids), KEY_SECONDS)


def release(scope: str, key: str) -> None:
    """Forget a key whose post was refused before anything was created, so the form can be sent again."""
    cache.delete(_cache_key(scope, key))


def previous(scope: str, key: str) -> list[int]:
    """The ids of what the first post of this key created ([] while it runs or when its outcome is unknown)."""
    value = cache.get(_cache_key(scope, key))
    return list(value) if isinstance(value, list) else []

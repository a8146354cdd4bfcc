"""Cross-process locks (one sync per provider account at a time), atomic on Redis.

With REDIS_URL set (production, `make test`) a lock is redis-py's `Lock`: taken with one `SET NX PX` and
released by a script that deletes the key only while it still holds our token, so a lock that expired and
was taken by another process is never released by us. Without Redis (the embedded `make run` on SQLite)
the cache's add/get/delete stands in; settings refuse that cache when DEBUG is false.

A lock's Redis key is the cache's key for the same name, so `cache.get(name)` sees it and `cache.add(name,
...)` collides with it.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import LockError

logger = logging.getLogger(__name__)


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


@contextmanager
def hold(name: str, *, timeout: float) -> Iterator[bool]:
    """Try once to take the lock `name` for at most `timeout` seconds; yields whether we hold it.

    Never waits: a caller that does not get the lock decides what to do (a sync records a skipped run).
    """
    if settings.REDIS_URL:
        with _hold_on_redis(name, timeout=timeout) as acquired:
            yield acquired
    else:
        with _hold_in_cache(name, timeout=timeout) as acquired:
            yield acquired


@contextmanager
def _hold_on_redis(name: str, *, timeout: float) -> Iterator[bool]:
    lock = _redis(settings.REDIS_URL).lock(cache.make_key(name), timeout=timeout, blocking=False)
    acquired = lock.acquire()
    try:
        yield acquired
    finally:
        if acquired:
            try:
                lock.release()
            except LockError:
                # It expired while we held it, and may belong to another process now: theirs to release.
                logger.warning("lock %s expired before it was released", name)


@contextmanager
def _hold_in_cache(name: str, *, timeout: float) -> Iterator[bool]:
    token = uuid.uuid4().hex
    acquired = cache.add(name, token, timeout=timeout)
    try:
        yield acquired
    finally:
        # The embedded default only: check-then-delete is not atomic, which one machine's demo can live with.
        if acquired and cache.get(name) == token:
            cache.delete(name)

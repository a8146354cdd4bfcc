"""`/healthz`: 200 only when the database, the Celery broker and the cache answer and the worker and beat
heartbeats are fresh; 503 otherwise, naming what failed (by type only, never a message that may hold a secret)."""

from __future__ import annotations

import uuid

from celery import current_app as celery_app
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops import heartbeats


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _check_cache() -> str:
    """A write and a read back: locks and rate limits live in the cache."""
    key, token = f"healthz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, token, timeout=10)
    try:
        if cache.get(key) != token:
            raise RuntimeError("the cache did not return what was written")
    finally:
        cache.delete(key)
    return "ok"


@never_cache
@require_GET
def healthz(request):
    checks = {}
    for name, check in (("database", _check_database), ("broker", _check_broker), ("cache", _check_cache)):
        try:
            checks[name] = check()
        except Exception as exc:  # any failure is "unhealthy", reported by type only
            checks[name] = f"error: {type(exc).__name__}"
    seen = heartbeats.heartbeats_seen() if checks["database"] == "ok" else {}
    for name in heartbeats.WATCHED:
        if name in seen:
            checks[name] = "stale" if heartbeats.is_stale(seen[name]) else "ok"
    healthy = all(result == "ok" for result in checks.values())
    worker_seen = seen.get(heartbeats.WORKER)
    beat_seen = seen.get(heartbeats.BEAT)
    return JsonResponse(
        {
            "status": "ok" if healthy else "error",
            "checks": checks,
            "worker_seen_at": worker_seen.isoformat() if worker_seen else None,
            "beat_seen_at": beat_seen.isoformat() if beat_seen else None,
        },
        status=200 if healthy else 503,
    )

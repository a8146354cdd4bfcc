"""`/healthz`: 200 only when the database and the Celery broker answer; reports the last worker heartbeat."""

from __future__ import annotations

from celery import current_app as celery_app
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops.models import WorkerHeartbeat


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@never_cache
@require_GET
def healthz(request):
    checks = {}
    healthy = True
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = check()
        except Exception as exc:  # any failure is "unhealthy", reported by type only
            checks[name] = f"error: {type(exc).__name__}"
            healthy = False
    beat = WorkerHeartbeat.objects.filter(name="worker").first() if checks["database"] == "ok" else None
    return JsonResponse(
        {
            "status": "ok" if healthy else "error",
            "checks": checks,
            "worker_seen_at": beat.seen_at.isoformat() if beat else None,
        },
        status=200 if healthy else 503,
    )

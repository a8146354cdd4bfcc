"""Heartbeats: the worker (the `ops.heartbeat` task beat sends every minute) and beat itself say they are alive.

/healthz and the containers' healthchecks read them; one older than HEARTBEAT_STALE_SECONDS is stale.
"""

from __future__ import annotations

import datetime as dt
import socket

from django.conf import settings
from django.utils import timezone

from ops.models import WorkerHeartbeat

WORKER = "worker"
BEAT = "beat"
WATCHED = (WORKER, BEAT)


def heartbeat_record(*, name: str) -> None:
    WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now(), "hostname": socket.gethostname()}
    )


def heartbeats_seen(names: tuple[str, ...] = WATCHED) -> dict[str, dt.datetime | None]:
    """When each named process was last seen (None: never)."""
    seen = dict(WorkerHeartbeat.objects.filter(name__in=names).values_list("name", "seen_at"))
    return {name: seen.get(name) for name in names}


def is_stale(seen_at: dt.datetime | None, *, now: dt.datetime | None = None) -> bool:
    """Never seen, or not for HEARTBEAT_STALE_SECONDS."""
    now = now or timezone.now()
    return seen_at is None or (now - seen_at).total_seconds() > settings.HEARTBEAT_STALE_SECONDS

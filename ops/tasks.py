"""Operational tasks: the worker heartbeat that /healthz reports."""

from __future__ import annotations

import socket

from celery import shared_task
from django.utils import timezone

from ops.models import WorkerHeartbeat


@shared_task(name="ops.heartbeat", ignore_result=True)
def heartbeat(name: str = "worker") -> None:
    WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now(), "hostname": socket.gethostname()}
    )

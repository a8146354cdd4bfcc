"""Operational tasks: the worker heartbeat that /healthz reports, and sending mail (ops.mail)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from ops import heartbeats, mail


@shared_task(name="ops.heartbeat", ignore_result=True)
def heartbeat(name: str = heartbeats.WORKER) -> None:
    heartbeats.heartbeat_record(name=name)


@worker_ready.connect
def heartbeat_when_ready(**kwargs) -> None:
    """A worker that just started is seen at once, not only after beat's first heartbeat a minute later."""
    heartbeats.heartbeat_record(name=heartbeats.WORKER)


@shared_task(bind=True, name="ops.send_email", max_retries=mail.MAX_RETRIES, ignore_result=True)
def send_email(self, payload: dict) -> None:
    """Send one message queued by `ops.mail.QueuedEmailBackend`; retry while the mail server is unreachable."""
    try:
        mail.deliver(payload)
    except Exception as exc:
        if not mail.is_worth_retrying(exc):
            raise
        raise self.retry(exc=exc, countdown=mail.retry_countdown(self.request.retries)) from exc

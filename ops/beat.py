"""Celery beat's scheduler, which also records beat's own heartbeat (`CELERY_BEAT_SCHEDULER`).

Beat sends the tasks but runs none, so the worker's heartbeat cannot tell whether beat is alive: a beat that
died leaves the worker idle and the mirror stale with every container "up". /healthz and beat's container
healthcheck (`manage.py check_heartbeat beat`) read this one.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from celery.beat import PersistentScheduler, ScheduleEntry

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_SECONDS = 30.0


# Far enough back that an entry never run is due at once, whatever its interval or crontab.
NEVER_RUN_BACKDATE = dt.timedelta(days=400)


class DueAtFirstStartEntry(ScheduleEntry):
    """An entry beat has never run (its first start, or a lost schedule file) is due at once: a new deployment
    syncs and checks alerts now, not one interval later. Entries read back from the schedule file keep their
    last run, and every later run is computed by Celery as usual."""

    def __init__(self, name=None, task=None, last_run_at=None, *args, **kwargs):
        super().__init__(name, task, last_run_at, *args, **kwargs)
        if last_run_at is None:
            self.last_run_at -= NEVER_RUN_BACKDATE


class HeartbeatScheduler(PersistentScheduler):
    Entry = DueAtFirstStartEntry
    _last_heartbeat: float | None = None

    def tick(self, *args, **kwargs) -> float:
        now = time.monotonic()
        if self._last_heartbeat is None or now - self._last_heartbeat >= HEARTBEAT_EVERY_SECONDS:
            self._record_heartbeat()
            self._last_heartbeat = now
        # Wake up at least as often as the heartbeat is due.
        return min(super().tick(*args, **kwargs), HEARTBEAT_EVERY_SECONDS)

    @staticmethod
    def _record_heartbeat() -> None:
        import django
        from django.apps import apps

        if not apps.ready:
            django.setup()
        from ops import heartbeats

        try:
            heartbeats.heartbeat_record(name=heartbeats.BEAT)
        except Exception:
            # A database hiccup must not stop beat from sending the schedule; the stale heartbeat shows it.
            logger.exception("beat: could not record the heartbeat")

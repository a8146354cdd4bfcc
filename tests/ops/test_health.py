"""/healthz checks the database, the broker, the cache and the worker and beat heartbeats; the audit log
redacts secrets."""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from ops import audit, heartbeats
from ops.beat import HeartbeatScheduler
from ops.models import WorkerHeartbeat


def beat(name: str, *, ago: dt.timedelta = dt.timedelta(0)) -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(name=name, seen_at=timezone.now() - ago)


@pytest.fixture
def fresh(db):
    """A worker and a beat that were both seen just now."""
    beat(heartbeats.WORKER)
    beat(heartbeats.BEAT)


def test_it_reports_healthy_with_database_broker_cache_and_fresh_heartbeats(client, fresh):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {"database": "ok", "broker": "ok", "cache": "ok", "worker": "ok", "beat": "ok"}
    assert body["worker_seen_at"] is not None
    assert body["beat_seen_at"] is not None


def test_it_reports_the_last_worker_heartbeat(client, db):
    beat(heartbeats.WORKER)
    assert client.get("/healthz").json()["worker_seen_at"] is not None


def test_it_answers_503_when_the_broker_is_down(client, fresh, monkeypatch):
    from config.celery import app

    # Point the broker connection at a port where nothing listens.
    monkeypatch.setattr(
        app, "connection_for_write", functools.partial(app.connection_for_write, "redis://127.0.0.1:1/0")
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")


def test_it_answers_503_when_beat_is_stale(client, db, settings):
    beat(heartbeats.WORKER)
    beat(heartbeats.BEAT, ago=dt.timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS + 1))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["beat"] == "stale"
    assert response.json()["checks"]["worker"] == "ok"


def test_it_answers_503_when_the_worker_is_stale(client, db, settings):
    beat(heartbeats.WORKER, ago=dt.timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS + 1))
    beat(heartbeats.BEAT)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "stale"


def test_it_answers_503_before_any_worker_or_beat_was_seen(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == response.json()["checks"]["beat"] == "stale"


def test_it_answers_503_when_the_cache_does_not_keep_what_is_written(client, fresh, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "error: RuntimeError"


def test_beat_records_its_own_heartbeat_on_each_tick(db, tmp_path):
    from config.celery import app

    scheduler = HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"), lazy=True)
    scheduler.setup_schedule()
    for entry in scheduler.schedule.values():  # this test is about the heartbeat: send no task on this tick
        entry.last_run_at = app.now()
    try:
        assert scheduler.tick() <= 30
    finally:
        scheduler.close()

    assert WorkerHeartbeat.objects.get(name=heartbeats.BEAT).seen_at > timezone.now() - dt.timedelta(seconds=5)


def test_beat_runs_every_entry_at_its_first_start_and_then_on_its_interval(tmp_path):
    from config.celery import app

    schedule_file = str(tmp_path / "schedule")
    scheduler = HeartbeatScheduler(app=app, schedule_filename=schedule_file, lazy=True)
    scheduler.setup_schedule()
    try:
        sync = scheduler.schedule["sync-all-accounts"]
        # A new deployment syncs now, not SYNC_INTERVAL_SECONDS after beat starts.
        assert sync.is_due().is_due
        ran = next(sync)  # what beat stores once it has sent the task
        assert not ran.is_due().is_due
        assert 0 < ran.is_due().next <= ran.schedule.run_every.total_seconds()
        scheduler.schedule["sync-all-accounts"] = ran
        scheduler.sync()
    finally:
        scheduler.close()

    # Restarted with its schedule file: the entry keeps its last run and is not due again at once.
    again = HeartbeatScheduler(app=app, schedule_filename=schedule_file, lazy=True)
    again.setup_schedule()
    try:
        assert not again.schedule["sync-all-accounts"].is_due().is_due
        assert again.schedule["check-alerts"].is_due().is_due  # never sent yet: still due
    finally:
        again.close()


def test_the_heartbeat_check_command_fails_on_a_stale_heartbeat(db, settings):
    with pytest.raises(CommandError, match="beat heartbeat is stale"):
        call_command("check_heartbeat", "beat")
    beat(heartbeats.BEAT, ago=dt.timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS + 1))
    with pytest.raises(CommandError, match="beat heartbeat is stale"):
        call_command("check_heartbeat", "beat")

    WorkerHeartbeat.objects.filter(name=heartbeats.BEAT).update(seen_at=timezone.now())
    call_command("check_heartbeat", "beat")


def test_the_audit_log_redacts_secrets(db):
    event = audit.record(action="x", data={"password": "hunter22", "nested": {"api_key": "k"}, "name": "n"})
    assert event.data == {"password": "[redacted]", "nested": {"api_key": "[redacted]"}, "name": "n"}
    assert event.actor_label == "system"


def test_a_worker_is_seen_as_soon_as_it_is_ready(db):
    from celery.signals import worker_ready

    import ops.tasks  # noqa: F401 (the worker imports it at start; so does this test)

    worker_ready.send(sender=None)

    assert WorkerHeartbeat.objects.get(name=heartbeats.WORKER).seen_at > timezone.now() - dt.timedelta(seconds=5)

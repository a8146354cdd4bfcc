"""/healthz checks the database and the broker; the audit log redacts secrets."""

from __future__ import annotations

import functools

from django.utils import timezone

from ops import audit
from ops.models import WorkerHeartbeat


def test_it_reports_healthy_with_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert body["worker_seen_at"] is None


def test_it_reports_the_last_worker_heartbeat(client, db):
    WorkerHeartbeat.objects.create(name="worker", seen_at=timezone.now())
    assert client.get("/healthz").json()["worker_seen_at"] is not None


def test_it_answers_503_when_the_broker_is_down(client, db, monkeypatch):
    from config.celery import app

    # Point the broker connection at a port where nothing listens.
    monkeypatch.setattr(
        app, "connection_for_write", functools.partial(app.connection_for_write, "redis://127.0.0.1:1/0")
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")


def test_the_audit_log_redacts_secrets(db):
    event = audit.record(action="x", data={"password": "hunter22", "nested": {"api_key": "k"}, "name": "n"})
    assert event.data == {"password": "[redacted]", "nested": {"api_key": "[redacted]"}, "name": "n"}
    assert event.actor_label == "system"

"""A real Celery worker, on the Redis broker, runs a task whose effect lands in the database."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from ops.models import WorkerHeartbeat
from tests.support.processes import PROJECT_ROOT


def _database_url() -> str:
    db = connection.settings_dict
    assert connection.vendor == "postgresql", "the worker shares the test database only on PostgreSQL"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_heartbeat_task_from_redis(redis_url):
    from config.celery import app
    from ops.tasks import heartbeat

    assert app.conf.broker_url == redis_url
    env = {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": redis_url, "DEBUG": "true"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            "test-worker@%h",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        heartbeat.delay(name="from-test")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.filter(name="from-test").exists():
            assert worker.poll() is None, f"the worker exited early:\n{worker.stdout.read()}"
            time.sleep(0.2)
        beat = WorkerHeartbeat.objects.get(name="from-test")
        assert beat.hostname
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert "ops.heartbeat" in output
    assert "succeeded" in output

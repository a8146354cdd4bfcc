"""Production settings refuse placeholders; deploy checks, migrations and the database in CI."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.fernet import Fernet
from django.db import connection

from tests.support.processes import PROJECT_ROOT

GOOD_SECRET = "s" * 20 + "-production-secret-key-for-tests-" + "k" * 20


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = manage("check", DEBUG="false", FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_refuses_to_start_without_encryption_keys_when_debug_is_off():
    result = manage("check", DEBUG="false", SECRET_KEY=GOOD_SECRET)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr


def test_it_refuses_a_malformed_encryption_key():
    result = manage("check", DEBUG="true", FIELD_ENCRYPTION_KEYS="not-a-key")
    assert result.returncode != 0
    assert "is not a Fernet key" in result.stderr


def test_deploy_checks_are_clean_under_production_settings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=GOOD_SECRET,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="proxies.example.com",
        # Production refuses to start without Redis; nothing connects to it during the checks.
        REDIS_URL="redis://redis.invalid:6379/2",
        CELERY_BROKER_URL="redis://redis.invalid:6379/0",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_are_committed():
    result = manage("makemigrations", "--check", "--dry-run", DEBUG="true")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_suite_runs_on_postgresql_under_make_test_and_sqlite_otherwise(db):
    expected = "postgresql" if os.environ.get("REQUIRE_TEST_SERVICES") == "1" else "sqlite"
    assert connection.vendor == expected

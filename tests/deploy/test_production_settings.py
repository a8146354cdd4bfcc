"""Production settings: Redis or nothing, queues, visibility timeout, gunicorn timeouts, the runtime image's
packages, JSON logs."""

from __future__ import annotations

import importlib.metadata
import json
import os
import runpy
import subprocess
import sys

from cryptography.fernet import Fernet

from tests.support.processes import PROJECT_ROOT

SECRET = "s" * 20 + "-production-secret-key-for-tests-" + "k" * 20
# Variables that make test services or a developer's shell leak into the subprocess's settings.
LEAKY = {
    "DEBUG",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "LOG_FORMAT",
    "SENTRY_DSN",
}
REDIS = {"REDIS_URL": "redis://redis.invalid:6379/2", "CELERY_BROKER_URL": "redis://redis.invalid:6379/0"}


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in LEAKY}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**env: str) -> dict[str, str]:
    return {"DEBUG": "false", "SECRET_KEY": SECRET, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(), **env}


LOAD_SETTINGS = "import django; django.setup(); from django.conf import settings; print(settings.CACHES)"


def test_production_refuses_the_filesystem_broker():
    result = python(LOAD_SETTINGS, **production(REDIS_URL=REDIS["REDIS_URL"]))
    assert result.returncode != 0
    assert "CELERY_BROKER_URL must point at Redis" in result.stderr
    assert "filesystem broker is for the embedded default" in result.stderr


def test_production_refuses_the_file_cache():
    result = python(LOAD_SETTINGS, **production(CELERY_BROKER_URL=REDIS["CELERY_BROKER_URL"]))
    assert result.returncode != 0
    assert "REDIS_URL must point at Redis" in result.stderr


def test_production_starts_on_redis_with_the_redis_cache():
    result = python(LOAD_SETTINGS, **production(**REDIS))
    assert result.returncode == 0, result.stderr
    assert "django.core.cache.backends.redis.RedisCache" in result.stdout


def test_the_embedded_default_still_runs_on_the_filesystem_broker_and_file_cache():
    result = python(LOAD_SETTINGS + "; print(settings.CELERY_BROKER_URL)", DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert "FileBasedCache" in result.stdout
    assert "filesystem://" in result.stdout


# Queues and the broker -------------------------------------------------------------------------------


def test_syncs_and_orders_have_their_own_queues_and_the_worker_consumes_every_queue():
    from config.celery import app

    def queue(task: str) -> str:
        return app.amqp.router.route({}, task)["queue"].name

    assert queue("inventory.sync_account") == "sync"
    assert queue("inventory.sync_all_accounts") == "sync"
    assert queue("billing.reconcile_unknown_orders") == "orders"
    assert queue("ops.send_email") == "celery"
    assert queue("inventory.check_alerts") == "celery"
    # A worker started without -Q consumes app.amqp.queues: all three.
    assert {"celery", "sync", "orders"} <= set(app.amqp.queues)


def test_the_visibility_timeout_outlasts_the_longest_scheduled_retry():
    from inventory import tasks as inventory_tasks
    from ops import mail

    result = python(
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'], settings.CELERY_TASK_TIME_LIMIT)",
        **production(**REDIS),
    )
    assert result.returncode == 0, result.stderr
    visibility_timeout, time_limit = map(int, result.stdout.split())
    longest_countdown = max(
        inventory_tasks.RETRY_COUNTDOWN_MAX_SECONDS,
        inventory_tasks.BACKOFF_MAX_SECONDS * 1.25,  # backoff_seconds adds up to a quarter of jitter
        mail.RETRY_COUNTDOWN_MAX_SECONDS,
    )
    assert visibility_timeout > longest_countdown + time_limit


def test_a_long_retry_after_is_cut_to_the_longest_countdown(sandbox, db):
    from celery.signals import task_retry

    from inventory.tasks import RETRY_COUNTDOWN_MAX_SECONDS, sync_account
    from tests.inventory.test_sync import unique_account

    account = unique_account("unknownproxies")
    sandbox.control("faults", {"rules": [{"provider": "*", "kind": "rate_limit", "retry_after": 86400, "times": 1}]})
    seen = []

    def record(sender=None, reason=None, **kwargs):
        seen.append(reason.when)

    task_retry.connect(record, weak=False)
    try:
        sync_account.apply(args=[account.pk])
    finally:
        task_retry.disconnect(record)
    assert seen == [RETRY_COUNTDOWN_MAX_SECONDS]


# gunicorn ---------------------------------------------------------------------------------------------


def test_gunicorn_uses_threads_and_timeouts_above_the_slowest_upstream_call():
    import integrations.iproxy.client
    import integrations.proxyshop.client
    import integrations.unknownproxies.client  # noqa: F401
    from providers.http.base import BaseClient

    config = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    slowest = max(client.longest_call_seconds() for client in [BaseClient, *BaseClient.__subclasses__()])

    assert config["worker_class"] == "gthread"
    assert config["threads"] > 1
    assert config["timeout"] > slowest
    assert config["graceful_timeout"] > slowest
    # 4 attempts of (5 s connect + 30 s read), 3 backoffs of at most 30 s.
    assert BaseClient.longest_call_seconds() == 4 * 35 + 3 * 30


def test_the_image_runs_gunicorn_with_its_config_file():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "--config", "gunicorn.conf.py", "config.wsgi"]' in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "requirements-dev.txt" not in dockerfile


# The runtime image's packages -------------------------------------------------------------------------


def _pins(name: str) -> list[str]:
    lines = (PROJECT_ROOT / name).read_text().splitlines()
    return [line.split("==")[0].split("[")[0].strip() for line in lines if "==" in line and not line.startswith("#")]


DEV_ONLY = {"pytest", "pytest-django", "pytest-playwright", "playwright", "responses", "hypothesis", "factory-boy"}
DEV_ONLY |= {"ruff", "import-linter", "Werkzeug", "honcho"}


def test_runtime_requirements_hold_no_test_or_development_package():
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert not DEV_ONLY & set(runtime)
    assert set(dev) >= DEV_ONLY
    assert not set(runtime) & set(dev)
    assert (PROJECT_ROOT / "requirements-dev.txt").read_text().splitlines()[1] == "-r requirements.txt"


def test_the_production_app_imports_no_development_package():
    """Everything production loads (settings, apps, every URL and view module, every task) works without
    the packages the image leaves out."""
    dev_modules = sorted(
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if any(dist.lower().replace("_", "-") in {d.lower() for d in DEV_ONLY} for dist in distributions)
        and module.isidentifier()
    )
    code = (
        "import sys, django; django.setup()\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "from config.celery import app\n"
        "app.loader.import_default_modules()\n"
        "from django.core.management import call_command\n"
        "call_command('check')\n"
        f"print(sorted(m for m in {dev_modules!r} if m in sys.modules))\n"
    )
    result = python(code, **production(**REDIS))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


# Logs -------------------------------------------------------------------------------------------------


def test_json_logs_are_one_object_per_line():
    code = "import django, logging; django.setup(); logging.getLogger('billing').warning('order %s settled', 7)"
    result = python(code, DEBUG="true", LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "order 7 settled"
    assert line["levelname"] == "WARNING"
    assert line["name"] == "billing"


def test_an_unknown_log_format_is_refused():
    result = python("import django; django.setup()", DEBUG="true", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be 'plain' or 'json'" in result.stderr


def test_one_trusted_proxy_reads_the_client_address_from_x_forwarded_for():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_IPWARE_META_PRECEDENCE_ORDER, s.AXES_IPWARE_PROXY_COUNT, s.IPWARE_STRICT, "
        "s.AXES_LOCKOUT_PARAMETERS)"
    )
    behind = python(code, **production(**REDIS, TRUSTED_PROXY_COUNT="1"))
    assert behind.returncode == 0, behind.stderr
    assert (
        behind.stdout.split("\n")[0] == "('HTTP_X_FORWARDED_FOR', 'REMOTE_ADDR') 0 False [['username', 'ip_address']]"
    )

    direct = python(
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_IPWARE_META_PRECEDENCE_ORDER)",
        DEBUG="true",
    )
    assert direct.stdout.strip() == "('REMOTE_ADDR',)"


def test_gunicorn_logs_json_too_when_asked(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    config = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    formatter = config["logconfig_dict"]["formatters"]["json"]["()"]
    assert formatter == "pythonjsonlogger.json.JsonFormatter"
    assert set(config["logconfig_dict"]["loggers"]) == {"gunicorn.error", "gunicorn.access"}


def test_production_refuses_an_empty_encryption_key_list():
    """`FIELD_ENCRYPTION_KEYS=` left blank in a copied .env.example must not start without keys."""
    result = python(LOAD_SETTINGS, **{**production(**REDIS), "FIELD_ENCRYPTION_KEYS": ""})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr

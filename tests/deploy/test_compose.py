"""docker-compose.yml, deploy/Caddyfile, .env.example and .dockerignore: the production stack's shape.

Docker does not run here, so these read the files as compose and Caddy would and check what a first
deployment relies on: HTTPS in front, migrations before anything starts, a healthcheck for each service,
secrets only from .env, backups with retention, Flower behind auth.
"""

from __future__ import annotations

import re

import pytest
import yaml

from ops.audit import is_secret_key
from tests.support.processes import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
CADDYFILE = (PROJECT_ROOT / "deploy" / "Caddyfile").read_text()
ENV_EXAMPLE = (PROJECT_ROOT / ".env.example").read_text()
LONG_RUNNING = sorted(set(SERVICES) - {"migrate"})
APP = ("web", "worker", "beat")


def environment(service: str) -> dict[str, str]:
    return {key: str(value) for key, value in (SERVICES[service].get("environment") or {}).items()}


def test_it_has_the_whole_stack():
    assert {"caddy", "web", "worker", "beat", "migrate", "postgres", "redis", "flower", "backup"} <= set(SERVICES)


@pytest.mark.parametrize("service", APP)
def test_the_app_waits_for_the_migrations_and_for_healthy_servers(service):
    depends_on = SERVICES[service]["depends_on"]
    assert depends_on["migrate"] == {"condition": "service_completed_successfully"}
    assert depends_on["postgres"] == {"condition": "service_healthy"}
    assert depends_on["redis"] == {"condition": "service_healthy"}


def test_migrate_is_a_one_off_job():
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    # web no longer migrates as it starts (three replicas would race).
    assert "migrate" not in str(SERVICES["web"].get("command", ""))


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck(service):
    check = SERVICES[service]["healthcheck"]
    assert not check.get("disable")
    assert check["test"]
    assert SERVICES[service]["restart"] == "unless-stopped"


def test_beats_healthcheck_reads_its_heartbeat():
    assert SERVICES["beat"]["healthcheck"]["test"] == ["CMD", "python", "manage.py", "check_heartbeat", "beat"]


def test_the_worker_consumes_every_queue():
    command = SERVICES["worker"]["command"]
    queues = command[command.index("--queues") + 1].split(",")
    assert sorted(queues) == ["celery", "orders", "sync"]


def test_only_the_tls_proxy_is_published():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published == {"caddy"}
    assert {"80:80", "443:443"} <= set(SERVICES["caddy"]["ports"])


def test_caddy_terminates_tls_for_the_configured_domain():
    caddy = SERVICES["caddy"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert caddy["environment"]["DOMAIN"].startswith("${DOMAIN:?")
    assert caddy["depends_on"]["web"] == {"condition": "service_healthy"}
    assert re.search(r"^\{\$DOMAIN\} \{$", CADDYFILE, re.M)
    assert re.search(r"^\s+tls \{\$CADDY_TLS\}$", CADDYFILE, re.M)
    assert "reverse_proxy web:8000" in CADDYFILE
    # localhost out of the box: a certificate from Caddy's own authority.
    assert "DOMAIN=localhost" in ENV_EXAMPLE
    assert "CADDY_TLS=internal" in ENV_EXAMPLE


def test_the_app_trusts_exactly_the_one_proxy_in_front_and_serves_its_domain():
    env = environment("web")
    assert env["TRUSTED_PROXY_COUNT"] == "1"
    assert env["ALLOWED_HOSTS"].startswith("${DOMAIN")
    assert env["CSRF_TRUSTED_ORIGINS"] == "https://${DOMAIN}"
    assert env["DEBUG"] == "false"


def test_the_proxy_waits_longer_than_gunicorn():
    import runpy

    gunicorn = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    waits = re.search(r"response_header_timeout (\d+)s", CADDYFILE)
    assert waits and int(waits.group(1)) > gunicorn["timeout"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_no_secret_is_written_in_the_compose_file(service):
    for key, value in environment(service).items():
        if is_secret_key(key) or "AUTH" in key:
            assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", value), f"{service}.{key} must come from .env"
        if "://" in value and "@" in value:
            credentials = value.split("://", 1)[1].split("@", 1)[0]
            assert ":${POSTGRES_PASSWORD" in credentials, f"{service}.{key} holds a password"


def test_every_variable_compose_requires_is_in_the_example_env():
    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    assert required == {"POSTGRES_PASSWORD", "DOMAIN", "FLOWER_BASIC_AUTH"}
    for name in required | {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "CADDY_TLS"}:
        assert re.search(rf"^{name}=", ENV_EXAMPLE, re.M), name


def test_flower_is_behind_basic_auth_and_not_published():
    flower = SERVICES["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert "ports" not in flower
    assert "--url_prefix=flower" in flower["command"]
    assert "reverse_proxy flower:5555" in CADDYFILE


def test_the_database_is_backed_up_on_a_schedule_with_retention():
    backup = SERVICES["backup"]
    env = environment("backup")
    assert "./scripts/backup.sh:/usr/local/bin/backup.sh:ro" in backup["volumes"]
    assert "backups:/backups" in backup["volumes"]
    assert env["BACKUP_KEEP_DAYS"].startswith("${BACKUP_KEEP_DAYS:-")
    assert env["BACKUP_INTERVAL_SECONDS"].startswith("${BACKUP_INTERVAL_SECONDS:-")
    assert "backup.sh" in backup["entrypoint"][-1] and "sleep" in backup["entrypoint"][-1]
    assert backup["healthcheck"]["test"] == ["CMD", "backup.sh", "--check"]
    assert "backups" in COMPOSE["volumes"]


def test_redis_carries_the_broker_and_the_cache():
    env = environment("worker")
    assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["REDIS_URL"] != env["CELERY_BROKER_URL"]  # separate databases: flushing the cache keeps the queue


def test_the_image_leaves_out_secrets_local_state_and_history():
    ignored = set((PROJECT_ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv/", ".git/", "var/", "test-results/", ".pytest_cache/", "**/__pycache__/"} <= ignored
    assert "!.env.example" in ignored

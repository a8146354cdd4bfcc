"""gunicorn settings for the production image (`gunicorn -c gunicorn.conf.py config.wsgi`).

Requests may still wait on an upstream call (staff and portal actions call the provider in the request),
so a worker runs threads (gthread) and its timeouts outlast the slowest upstream call with all its retries.
Each value can be overridden from the environment.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from providers.http.base import BaseClient


def _integration_clients() -> list[type[BaseClient]]:
    """Every provider client, so a client with longer timeouts than the base raises the bound too."""
    import importlib
    import pkgutil

    import integrations

    for module in pkgutil.iter_modules(integrations.__path__):
        name = f"integrations.{module.name}.client"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return [BaseClient, *_subclasses(BaseClient)]


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


# The slowest upstream call a request can wait on, plus time to write the answer.
SLOWEST_UPSTREAM_SECONDS = max(client.longest_call_seconds() for client in _integration_clients())
HEADROOM_SECONDS = 30

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
# Threads wait on the network, not the CPU: a few slow upstream calls must not block every page.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", SLOWEST_UPSTREAM_SECONDS + HEADROOM_SECONDS))
# A restart or deploy lets in-flight requests finish their upstream call.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", timeout))
keepalive = 5
# Recycle workers now and then, so a slow leak never grows without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"


# Prometheus metrics from every worker process (django-prometheus): with PROMETHEUS_MULTIPROC_DIR set, each
# process writes its counters there and /metrics adds them up.
def on_starting(server) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# LOG_FORMAT=json: gunicorn's own lines (errors, access log) as JSON objects too, like the app's.
if os.environ.get("LOG_FORMAT") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }

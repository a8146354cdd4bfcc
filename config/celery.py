"""The Celery app: configured from Django settings (CELERY_*), tasks autodiscovered per app."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Alert checks live beside the alert service, not in tasks.py.
app.autodiscover_tasks(related_name="alert_tasks")

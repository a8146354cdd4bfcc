"""Project configuration: settings, URLs, the Celery app and WSGI/ASGI entry points."""

from __future__ import annotations

from .celery import app as celery_app

__all__ = ("celery_app",)

"""Tests run the embedded default (DEBUG placeholders allowed); CI passes DATABASE_URL etc. explicitly."""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

"""Staff and portal actions on iproxy resources (views stay thin: form -> service -> message)."""

from __future__ import annotations

staff_urlpatterns: list = []
portal_urlpatterns: list = []

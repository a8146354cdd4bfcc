"""Staff and portal actions on proxyshop resources (views stay thin: form -> service -> message)."""

from __future__ import annotations

staff_urlpatterns: list = []
portal_urlpatterns: list = []

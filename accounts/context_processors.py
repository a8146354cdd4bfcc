"""Template context shared by every page: the navigation for the user's role."""

from __future__ import annotations

from django.conf import settings


def navigation(request):
    return {"CURRENCY": settings.CURRENCY, "DEMO_MODE": settings.DEMO_MODE}

"""`BRAND` in every page's context (base.html, the sign-in pages)."""

from __future__ import annotations

from branding.brand import current


def brand(request):
    return {"BRAND": current()}

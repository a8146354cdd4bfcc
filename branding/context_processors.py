"""`BRAND` in every page's context (base.html, the sign-in pages)."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from branding.brand import current


def brand(request):
    # Lazy: a page that never shows the brand (a fragment for htmx) costs no query.
    return {"BRAND": SimpleLazyObject(current)}

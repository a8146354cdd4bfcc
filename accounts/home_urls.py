"""The two areas: /staff/ and /portal/, and / sending each user to theirs."""

from __future__ import annotations

from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="accounts:home", permanent=False), name="root"),
    path("staff/providers/", include("providers.urls")),
    path("staff/inventory/", include("inventory.urls")),
    path("staff/billing/", include("billing.urls")),
    path("portal/shop/", include("billing.portal_urls")),
    path("staff/", include("accounts.staff_urls")),
    path("portal/", include("accounts.portal_urls")),
]

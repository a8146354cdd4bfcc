"""URL map: accounts, staff area, customer portal, Django admin and the health check."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from ops import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("", include("accounts.home_urls")),
]

"""The one URL map: sign-in, the staff area, the portal (each with every integration's pages), admin, health."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from api.urls import api
from ops import health
from payments import webhooks as payment_webhooks
from providers import registry
from web.portal import urls as portal
from web.staff import metrics
from web.staff import urls as staff


def _with_integrations(patterns: list, hook: str) -> list:
    """The area's own patterns, then each registered integration's (`staff_urlpatterns`/`portal_urlpatterns`)."""
    return [*patterns, *(p for integration in registry.all_integrations() for p in getattr(integration, hook)())]


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("accounts.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("payments/webhook/<str:gateway>/", payment_webhooks.receive, name="payment-webhook"),
    path("metrics", metrics.metrics, name="metrics"),
    path("", RedirectView.as_view(pattern_name="accounts:home", permanent=False), name="root"),
    path("staff/providers/", include((staff.provider_patterns, "providers"))),
    path("staff/inventory/", include((_with_integrations(staff.inventory_patterns, "staff_urlpatterns"), "inventory"))),
    path("staff/billing/", include((staff.billing_patterns, "billing"))),
    path("portal/shop/", include((portal.shop_patterns, "store"))),
    path("staff/", include((staff.staff_patterns, "staff"))),
    path("portal/", include((_with_integrations(portal.portal_patterns, "portal_urlpatterns"), "portal"))),
]

"""`/metrics`: Prometheus metrics (django-prometheus) for an internal scraper or a signed-in staff member."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from ops.network import is_internal_request


@never_cache
@require_GET
def metrics(request):
    user = request.user
    if not (is_internal_request(request) or (user.is_authenticated and user.is_staff_member)):
        raise PermissionDenied("Metrics are for the internal network and staff only.")
    return ExportToDjangoView(request)

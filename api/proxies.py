"""The customer's proxies: list (filter, search, seek pagination), one with credentials, exports, usage."""

from __future__ import annotations

import datetime as dt
from enum import Enum

from django.db.models import Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Query, Router

from api.problems import Problem
from api.schemas import ProxyDetailOut, ProxyPage, UsageHistoryOut, UsageOut, seek_page
from inventory import presenters, selectors
from inventory import usage as usage_history
from inventory.models import Resource, ResourceStatus, UsageSample
from providers import registry

router = Router(tags=["proxies"])

READ_ERRORS = {400: Problem, 401: Problem, 404: Problem, 422: Problem, 429: Problem}

# Built from the registry when the URLs load (the core never names a kind); new kinds and formats come along.
ResourceKindChoice = Enum("ResourceKindChoice", {value: value for value in registry.sold_resource_kinds()}, type=str)
StatusChoice = Enum("StatusChoice", {value: value for value in ResourceStatus.values}, type=str)
ExportFormatChoice = Enum("ExportFormatChoice", {key: key for key in presenters.EXPORT_FORMATS}, type=str)
# Rows an export reads from the database at a time: its memory stays the same at any size.
EXPORT_CHUNK = 2000


def own_resources(request):
    return selectors.resources_for_customer(customer=request.auth.user.customer)


def own_resource(request, resource_id: int) -> Resource:
    """The caller's own proxy, else 404 (another customer's id looks exactly like a missing one)."""
    return get_object_or_404(own_resources(request).select_related("parent__account"), pk=resource_id)


def proxy_detail(resource: Resource) -> dict:
    return {
        **{field: getattr(resource, field) for field in ProxyDetailOut.model_fields if hasattr(resource, field)},
        "kind_label": resource.get_kind_display(),
        "credentials": [vars(credential) for credential in presenters.credentials(resource)],
        "proxy_lines": presenters.proxy_lines(resource),
        "actions": [action.name for action in registry.self_service_actions(resource.kind)],
    }


@router.get("/proxies", response={200: ProxyPage, **READ_ERRORS}, summary="List my proxies")
def proxy_list(
    request,
    kind: ResourceKindChoice | None = None,
    status: StatusChoice | None = None,
    search: str = Query("", max_length=100, description="Part of the label or the provider's id."),
    cursor: str = Query("", max_length=200),
    limit: int = Query(50, ge=1, le=200),
):
    resources = own_resources(request)
    if kind is not None:
        resources = resources.filter(kind=kind.value)
    if status is not None:
        resources = resources.filter(status=status.value)
    if search.strip():
        resources = resources.filter(Q(label__icontains=search.strip()) | Q(upstream_id__icontains=search.strip()))
    items, next_cursor = seek_page(resources, cursor=cursor, limit=limit, newest_first=False)
    return {"items": items, "next_cursor": next_cursor}


def _export_content() -> dict:
    """The media type of each export format, for the schema (read from the presenter's formats, so it cannot drift)."""
    types = {f.content_type.split(";")[0].strip() for f in presenters.EXPORT_FORMATS.values()}
    # A JSON export is any JSON document here; a text one is a string.
    return {t: {"schema": {} if t.endswith("json") else {"type": "string"}} for t in sorted(types)}


@router.get(
    "/proxies/export",
    response={401: Problem, 422: Problem, 429: Problem},
    summary="Export my live proxies",
    openapi_extra={"responses": {200: {"description": "The export file", "content": _export_content()}}},
)
def proxy_export(request, format: ExportFormatChoice):
    """Every live proxy in one of the portal's export formats (the portal's own presenter writes it), streamed."""
    chosen = presenters.EXPORT_FORMATS[format.value]
    resources = own_resources(request).exclude(status=ResourceStatus.VANISHED).order_by("id")
    chunks = presenters.export_chunks(resources.iterator(chunk_size=EXPORT_CHUNK), chosen)
    response = StreamingHttpResponse(chunks, content_type=chosen.content_type)
    response["Content-Disposition"] = f'attachment; filename="proxies-{chosen.key}.{chosen.extension}"'
    return response


@router.get("/proxies/{resource_id}", response={200: ProxyDetailOut, **READ_ERRORS}, summary="One proxy")
def proxy_get(request, resource_id: int):
    """One of my proxies with its credentials and `host:port:user:pass` lines."""
    return proxy_detail(own_resource(request, resource_id))


@router.get("/usage", response={200: list[UsageOut], **READ_ERRORS}, summary="Usage of my live proxies")
def usage(request):
    """Current counters of every live proxy, as the last sync saw them."""
    return list(own_resources(request).exclude(status=ResourceStatus.VANISHED).order_by("id"))


@router.get("/proxies/{resource_id}/usage", response={200: UsageOut, **READ_ERRORS}, summary="Usage of one proxy")
def proxy_usage(request, resource_id: int):
    return own_resource(request, resource_id)


@router.get(
    "/proxies/{resource_id}/usage/history",
    response={200: UsageHistoryOut, **READ_ERRORS},
    summary="Usage history of one proxy",
)
def proxy_usage_history(request, resource_id: int, days: int = Query(30, ge=1, le=365)):
    """The usage samples of the last `days` days (downsampled as stored), the recent rate and the projection."""
    resource = own_resource(request, resource_id)
    now = timezone.now()
    samples = UsageSample.objects.filter(resource=resource, at__gte=now - dt.timedelta(days=days)).order_by("at", "pk")
    projection = usage_history.projections([resource], now=now).get(resource.pk)
    return {
        "id": resource.pk,
        "samples": list(samples.values("at", "bytes_used", "bytes_limit", "resolution")),
        "bytes_per_day": projection.bytes_per_day if projection else None,
        "runs_out_at": usage_history.projected_exhaustion(resource, now=now),
    }

"""How a mirrored resource is shown and exported: its integration says how; masking our secrets is here.

Reads only the upstream JSON the sync stored, so pages and exports never call a provider.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ops import audit
from providers import registry
from providers.registry import Credential, Endpoint

HIDDEN = "[hidden]"

__all__ = [
    "EXPORT_FORMATS",
    "Credential",
    "Endpoint",
    "credentials",
    "dig",
    "endpoints",
    "export_chunks",
    "proxy_lines",
    "upstream_for_display",
]


def dig(data: Any, *path: str, default: Any = "") -> Any:
    """The value at `path` in mirrored JSON, or `default` where any step is missing or null."""
    for key in path:
        if not isinstance(data, dict) or key not in data or data[key] is None:
            return default
        data = data[key]
    return data


def credentials(resource) -> list[Credential]:
    """What a customer needs to use the proxy, in display order."""
    return resource.integration.credentials(resource)


def endpoints(resource) -> list[Endpoint]:
    """The proxies a resource gives, as its integration reads them from the mirror."""
    return resource.integration.endpoints(resource)


def proxy_lines(resource) -> list[str]:
    """`host:port:user:pass` lines (the format proxy tools import), one per endpoint."""
    return [colon_line(endpoint) for endpoint in endpoints(resource)]


# Export formats: every one is made here from endpoints, whatever the kind -----------------------------


def colon_line(endpoint: Endpoint) -> str:
    where = f"{endpoint.host}:{endpoint.port}"
    return f"{where}:{endpoint.user}:{endpoint.password}" if endpoint.user else where


def _userinfo(endpoint: Endpoint) -> str:
    # In a URL the sign-in is percent-encoded: a password may hold ':' or '@'.
    if not endpoint.user:
        return ""
    return f"{quote(endpoint.user, safe='')}:{quote(endpoint.password, safe='')}@"


def at_line(endpoint: Endpoint) -> str:
    return f"{_userinfo(endpoint)}{endpoint.host}:{endpoint.port}"


def url_line(endpoint: Endpoint, scheme: str) -> str:
    return f"{scheme}://{at_line(endpoint)}"


@dataclass(frozen=True)
class ExportFormat:
    key: str  # the URL's name for it
    label: str  # what the button says
    extension: str
    content_type: str
    # Only endpoints that speak this protocol go into a URL format ("" = every endpoint).
    scheme: str = ""


EXPORT_FORMATS = {
    f.key: f
    for f in (
        ExportFormat("txt", "host:port:user:pass", "txt", "text/plain; charset=utf-8"),
        ExportFormat("at", "user:pass@host:port", "txt", "text/plain; charset=utf-8"),
        ExportFormat("http", "http://user:pass@host:port", "txt", "text/plain; charset=utf-8", scheme="http"),
        ExportFormat("socks5", "socks5://user:pass@host:port", "txt", "text/plain; charset=utf-8", scheme="socks5"),
        ExportFormat("csv", "CSV", "csv", "text/csv; charset=utf-8"),
        ExportFormat("json", "JSON", "json", "application/json"),
    )
}
CSV_HEADER = ["id", "kind", "label", "status", "expires_at", "data_used_bytes", "data_limit_bytes", "proxy"]
CSV_HEADER += ["host", "port", "username", "password", "protocols"]


# Resources per chunk an export yields: few, large writes instead of one per row.
EXPORT_BATCH = 500


def export_chunks(resources: Iterable, export_format: ExportFormat) -> Iterator[str]:
    """The export as text chunks of EXPORT_BATCH resources, so a response can stream any number of rows.

    `resources` should be an iterator over rows with the columns of `selectors.EXPORT_COLUMNS` (model
    instances or named rows: integrations read `kind` and `upstream`), such as a queryset's
    `.iterator(chunk_size=...)`; nothing here keeps more than one batch's lines.
    """
    kinds = dict(registry.resource_kind_choices())
    integrations: dict[str, registry.Integration] = {}
    out = io.StringIO()
    writer = csv.writer(out)
    if export_format.key == "csv":
        writer.writerow(CSV_HEADER)
    elif export_format.key == "json":
        out.write("[")
    first = True
    for count, resource in enumerate(resources, start=1):
        if resource.kind not in integrations:
            integrations[resource.kind] = registry.for_resource_kind(resource.kind)
        found = integrations[resource.kind].endpoints(resource)
        if export_format.key == "csv":
            writer.writerows(_csv_fields(resource, kinds, e) for e in (found or [None]))
        elif export_format.key == "json":
            for endpoint in found:
                out.write("\n" if first else ",\n")
                out.write(json.dumps(_json_item(resource, kinds, endpoint)))
                first = False
        else:
            for endpoint in found:
                if not export_format.scheme or export_format.scheme in endpoint.schemes:
                    out.write(_text_line(endpoint, export_format))
                    out.write("\n")
        if count % EXPORT_BATCH == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if export_format.key == "json":
        out.write("\n]\n")
    if out.tell():
        yield out.getvalue()


def _text_line(endpoint: Endpoint, export_format: ExportFormat) -> str:
    if export_format.key == "at":
        return at_line(endpoint)
    if export_format.scheme:
        return url_line(endpoint, export_format.scheme)
    return colon_line(endpoint)


def _csv_fields(resource, kinds: dict[str, str], endpoint: Endpoint | None) -> list:
    def value(number):
        return "" if number is None else number

    common = [
        resource.id,
        kinds.get(resource.kind, resource.kind),
        csv_safe(resource.label),
        resource.status,
        resource.expires_at.isoformat() if resource.expires_at else "",
        value(resource.data_used_bytes),
        value(resource.data_limit_bytes),
    ]
    if endpoint is None:
        return [*common, "", "", "", "", "", ""]
    return [
        *common,
        csv_safe(colon_line(endpoint)),
        csv_safe(endpoint.host),
        endpoint.port,
        csv_safe(endpoint.user),
        csv_safe(endpoint.password),
        " ".join(endpoint.schemes),
    ]


def _json_item(resource, kinds: dict[str, str], endpoint: Endpoint) -> dict:
    return {
        "id": resource.id,
        "kind": kinds.get(resource.kind, resource.kind),
        "label": resource.label,
        "status": resource.status,
        "expires_at": resource.expires_at.isoformat() if resource.expires_at else None,
        "host": endpoint.host,
        "port": endpoint.port,
        "username": endpoint.user,
        "password": endpoint.password,
        "protocols": list(endpoint.schemes),
    }


def csv_safe(value: str) -> str:
    # Spreadsheet apps run cells starting with = + - @ as formulas: neutralise them.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


def hidden_upstream_keys() -> frozenset[str]:
    keys: frozenset[str] = frozenset()
    for integration in registry.all_integrations():
        keys |= integration.hidden_upstream_keys
    return keys


def upstream_for_display(data: Any) -> Any:
    """The mirrored upstream JSON with our own secrets (every integration's hidden keys) masked, at any depth."""
    return audit.redact(data, hide=hidden_upstream_keys().__contains__, placeholder=HIDDEN, keep_empty=True)

"""How a mirrored resource is shown and exported: its integration says how; masking our secrets is here.

Reads only the upstream JSON the sync stored, so pages and exports never call a provider.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ops import audit
from providers import registry
from providers.registry import Credential

HIDDEN = "[hidden]"

__all__ = [
    "EXPORT_FORMATS",
    "Credential",
    "credentials",
    "dig",
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


def proxy_lines(resource) -> list[str]:
    """`host:port:user:pass` lines (the format proxy tools import), one per endpoint."""
    return resource.integration.proxy_lines(resource)


def hidden_upstream_keys() -> frozenset[str]:
    keys: frozenset[str] = frozenset()
    for integration in registry.all_integrations():
        keys |= integration.hidden_upstream_keys
    return keys


def upstream_for_display(data: Any) -> Any:
    """The mirrored upstream JSON with our own secrets (every integration's hidden keys) masked, at any depth."""
    return audit.redact(data, hide=hidden_upstream_keys().__contains__, placeholder=HIDDEN, keep_empty=True)


# Export formats: the portal's downloads and the customer API's export endpoint both offer exactly these.


@dataclass(frozen=True)
class ExportFormat:
    key: str  # the URL's name for it
    label: str  # what the button says
    extension: str
    content_type: str


EXPORT_FORMATS = {
    f.key: f
    for f in (
        ExportFormat("txt", "host:port:user:pass", "txt", "text/plain; charset=utf-8"),
        ExportFormat("csv", "CSV", "csv", "text/csv; charset=utf-8"),
    )
}
CSV_HEADER = ["id", "kind", "label", "status", "expires_at", "data_used_bytes", "data_limit_bytes", "proxy"]


def export_chunks(resources: Iterable, export_format: ExportFormat) -> Iterator[str]:
    """The export as text chunks, one per resource, so a response can stream any number of rows."""
    kinds = dict(registry.resource_kind_choices())
    out = io.StringIO()
    writer = csv.writer(out)
    if export_format.key == "csv":
        writer.writerow(CSV_HEADER)
    for resource in resources:
        lines = proxy_lines(resource)
        if export_format.key == "csv":
            writer.writerows(_csv_fields(resource, kinds, line) for line in (lines or [""]))
        else:
            out.writelines(f"{line}\n" for line in lines)
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _csv_fields(resource, kinds: dict[str, str], line: str) -> list:
    def value(number):
        return "" if number is None else number

    return [
        resource.id,
        kinds.get(resource.kind, resource.kind),
        csv_safe(resource.label),
        resource.status,
        resource.expires_at.isoformat() if resource.expires_at else "",
        value(resource.data_used_bytes),
        value(resource.data_limit_bytes),
        csv_safe(line),
    ]


def csv_safe(value: str) -> str:
    # Spreadsheet apps run cells starting with = + - @ as formulas: neutralise them.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value

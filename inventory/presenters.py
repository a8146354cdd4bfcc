"""How a mirrored resource is shown and exported: its integration says how; masking our secrets is here.

Reads only the upstream JSON the sync stored, so pages and exports never call a provider.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from ops import audit
from providers import registry
from providers.registry import Credential

HIDDEN = "[hidden]"

__all__ = [
    "Credential",
    "Export",
    "credentials",
    "dig",
    "export",
    "export_formats",
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


@dataclass(frozen=True)
class Export:
    """One export file: its text, media type and file name extension."""

    body: str
    content_type: str
    extension: str


def _export_txt(resources) -> Export:
    body = "".join(f"{line}\n" for resource in resources for line in proxy_lines(resource))
    return Export(body, "text/plain; charset=utf-8", "txt")


def _export_csv(resources) -> Export:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "kind", "label", "status", "expires_at", "data_used_bytes", "data_limit_bytes", "proxy"])
    for resource in resources:
        for line in proxy_lines(resource) or [""]:
            writer.writerow(
                [
                    resource.pk,
                    resource.get_kind_display(),
                    _csv_safe(resource.label),
                    resource.status,
                    resource.expires_at.isoformat() if resource.expires_at else "",
                    resource.data_used_bytes if resource.data_used_bytes is not None else "",
                    resource.data_limit_bytes if resource.data_limit_bytes is not None else "",
                    _csv_safe(line),
                ]
            )
    return Export(out.getvalue(), "text/csv; charset=utf-8", "csv")


def _csv_safe(value: str) -> str:
    # Spreadsheet apps run cells starting with = + - @ as formulas: neutralise them.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


# The portal's export links and the customer API's export endpoint both offer exactly these.
_EXPORTS = {"txt": _export_txt, "csv": _export_csv}


def export_formats() -> list[str]:
    return list(_EXPORTS)


def export(resources, export_format: str) -> Export | None:
    """The resources in one export format (None for a format we do not have)."""
    writer = _EXPORTS.get(export_format)
    return writer(list(resources)) if writer else None

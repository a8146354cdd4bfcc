"""How a mirrored resource is shown and exported: its integration says how; masking our secrets is here.

Reads only the upstream JSON the sync stored, so pages and exports never call a provider.
"""

from __future__ import annotations

from typing import Any

from ops import audit
from providers import registry
from providers.registry import Credential

HIDDEN = "[hidden]"

__all__ = ["Credential", "credentials", "dig", "proxy_lines", "upstream_for_display"]


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

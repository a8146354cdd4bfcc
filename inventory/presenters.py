"""How a mirrored resource is shown and exported: its credentials and proxy lines, per kind.

Reads only the upstream JSON the sync stored, so pages and exports never call a provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inventory.models import Resource, ResourceKind

# Upstream fields that are credentials of ours, not of the customer: the proxy shop's rotate link works
# without the API key. They are kept in the mirror (the services follow them) but never shown, staff included.
HIDDEN_UPSTREAM_KEYS = frozenset({"rotatePath", "api_key", "apiKey", "link"})
HIDDEN = "[hidden]"

# Residential traffic goes through the provider's gateway; the token's username/password select it.
RESI_GATEWAY = "resi.unknownproxies.com:8080"


@dataclass(frozen=True)
class Credential:
    label: str
    value: str
    secret: bool = False


def _get(data: Any, *path: str, default: Any = "") -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data or data[key] is None:
            return default
        data = data[key]
    return data


def credentials(resource: Resource) -> list[Credential]:
    """What a customer needs to use the proxy, in display order."""
    data = resource.upstream or {}
    if resource.kind == ResourceKind.RESI_TOKEN:
        pools = ", ".join(_get(data, "allowedPools", default=[])) or "all pools"
        return [
            Credential("Gateway", RESI_GATEWAY),
            Credential("Username", _get(data, "username")),
            Credential("Password", _get(data, "password"), secret=True),
            Credential("Pools", pools),
        ]
    if resource.kind == ResourceKind.ISP_TOKEN:
        rows = [Credential("Protocol", _get(data, "proxyType")), Credential("Authentication", _get(data, "authType"))]
        if _get(data, "authType") == "ip":
            rows.append(Credential("Allowed IPs", ", ".join(_get(data, "authenticatedIps", default=[]))))
        else:
            rows += [
                Credential("Username", _get(data, "username")),
                Credential("Password", _get(data, "password"), secret=True),
            ]
        rows.append(Credential("Proxies", "\n".join(_get(data, "proxies", default=[]))))
        return rows
    if resource.kind == ResourceKind.SHOP_SUBSCRIPTION:
        rows = [
            Credential("Network", _get(data, "networkLabel")),
            Credential("Username", _get(data, "credentials", "username")),
            Credential("Password", _get(data, "credentials", "password"), secret=True),
        ]
        for name in ("http", "socks5", "vless", "shadowsocks"):
            url = _get(data, "protocols", name)
            if url:
                rows.append(Credential(name.upper() if name != "shadowsocks" else "Shadowsocks", url, secret=True))
        return rows
    if resource.kind == ResourceKind.IPROXY_ACCESS:
        return [
            Credential("Protocol", _get(data, "listen_service")),
            Credential("Host", f"{_get(data, 'hostname')}:{_get(data, 'port')}"),
            Credential("IP", f"{_get(data, 'ip')}:{_get(data, 'port')}"),
            Credential("Login", _get(data, "auth", "login")),
            Credential("Password", _get(data, "auth", "password"), secret=True),
        ]
    if resource.kind == ResourceKind.IPROXY_CONNECTION:
        geo = _get(data, "basic_info", "server_geo", default={})
        return [
            Credential("Phone", _get(data, "app_data", "device_info", "model") or "not reported"),
            Credential("Server", f"{_get(geo, 'country')}/{_get(geo, 'city')}".upper()),
        ]
    return []


def proxy_lines(resource: Resource) -> list[str]:
    """`host:port:user:pass` lines (the format proxy tools import), one per endpoint."""
    data = resource.upstream or {}
    if resource.kind == ResourceKind.RESI_TOKEN:
        return [f"{RESI_GATEWAY}:{_get(data, 'username')}:{_get(data, 'password')}"]
    if resource.kind == ResourceKind.ISP_TOKEN:
        auth = "" if _get(data, "authType") == "ip" else f":{_get(data, 'username')}:{_get(data, 'password')}"
        return [f"{proxy}{auth}" for proxy in _get(data, "proxies", default=[])]
    if resource.kind == ResourceKind.SHOP_SUBSCRIPTION:
        url = _get(data, "protocols", "http")
        return [url] if url else []
    if resource.kind == ResourceKind.IPROXY_ACCESS:
        host = f"{_get(data, 'hostname')}:{_get(data, 'port')}"
        if _get(data, "auth_type") == "noauth":
            return [host]
        return [f"{host}:{_get(data, 'auth', 'login')}:{_get(data, 'auth', 'password')}"]
    return []


def upstream_for_display(data: Any) -> Any:
    """The mirrored upstream JSON with our own secrets (see HIDDEN_UPSTREAM_KEYS) masked, at any depth."""
    if isinstance(data, dict):
        return {
            key: HIDDEN if key in HIDDEN_UPSTREAM_KEYS and value else upstream_for_display(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [upstream_for_display(item) for item in data]
    return data

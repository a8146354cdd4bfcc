"""The names this integration registers: its provider kind, resource kinds and product kinds."""

UNKNOWN_PROXIES = "unknownproxies"
RESI_TOKEN = "resi_token"
ISP_TOKEN = "isp_token"
RESI_GB = "resi_gb"
ISP_PROXIES = "isp_proxies"

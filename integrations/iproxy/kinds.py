"""The names this integration registers: its provider kind and resource kinds."""

IPROXY = "iproxy"
IPROXY_CONNECTION = "iproxy_connection"
IPROXY_ACCESS = "iproxy_access"

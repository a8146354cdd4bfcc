"""The names this integration registers: its provider kind, resource kinds and product kind."""

IPROXY = "iproxy"
IPROXY_CONNECTION = "iproxy_connection"
IPROXY_ACCESS = "iproxy_access"
IPROXY_PORT = "iproxy_port"

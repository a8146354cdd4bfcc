"""What of an iProxy phone or proxy access someone could change in the iProxy console, and setting ours back.

A proxy access: its login and password, protocol, authentication mode and allowed IPs (all but the mode set
back through the ordinary access actions; the mode follows the allowed IPs). A connection (a phone, staff
only): the settings the console can change, set back through `connection_settings_update`. A closed (deleted)
access that was sold is drift through the core's vanished rule. Traffic, uptime, the exit IP and a plan's
natural end are never drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.iproxy import actions
from integrations.iproxy.kinds import IPROXY_ACCESS, IPROXY_CONNECTION
from providers.registry import ActionRefused, WatchedField

ACCESS_FIELDS = (
    WatchedField("login", "Login", customer_facing=True),
    WatchedField("password", "Password", secret=True, customer_facing=True),
    WatchedField("listen_service", "Protocol", customer_facing=True),
    WatchedField("auth_type", "Authentication", customer_facing=True, restorable=False),
    WatchedField("acl_inbound_ips", "Allowed IPs", customer_facing=True),
)
# The connection settings (Connection control 5) a person changes in the console; `macros_url` may carry a
# token of the owner's automation, so it is a secret.
SETTINGS_FIELDS = (
    WatchedField("prolongation_enabled", "Automatic plan prolongation"),
    WatchedField("ip_change_enabled", "Scheduled IP change"),
    WatchedField("ip_change_interval_minutes", "IP change interval (minutes)"),
    WatchedField("reboot_cron_string", "Reboot schedule"),
    WatchedField("dns", "DNS servers"),
    WatchedField("tcp_fingerprint", "TCP fingerprint"),
    WatchedField("macros_url", "Macros URL", secret=True),
)
FIELDS = {IPROXY_ACCESS: ACCESS_FIELDS, IPROXY_CONNECTION: SETTINGS_FIELDS}


def watched_fields(resource_kind: str) -> tuple[WatchedField, ...]:
    return FIELDS.get(resource_kind, ())


def watched_values(resource_kind: str, upstream: Any) -> dict[str, Any]:
    if not isinstance(upstream, Mapping):
        return {}
    if resource_kind == IPROXY_CONNECTION:
        settings = upstream.get("settings")
        if not isinstance(settings, Mapping):
            return {}
        return {field.key: settings[field.key] for field in SETTINGS_FIELDS if field.key in settings}
    if resource_kind != IPROXY_ACCESS:
        return {}
    values: dict[str, Any] = {}
    auth = upstream.get("auth")
    if isinstance(auth, Mapping):
        values["login"], values["password"] = auth.get("login"), auth.get("password")
    for key in ("listen_service", "auth_type"):
        if key in upstream:
            values[key] = upstream[key]
    if "acl_inbound_ips" in upstream:
        values["acl_inbound_ips"] = sorted(map(str, upstream["acl_inbound_ips"] or []))
    return values


def restore(resource: Any, values: Mapping[str, Any], actor: Any) -> Any:
    """Set our values back with the ordinary connection or access actions (audited there)."""
    if resource.kind == IPROXY_CONNECTION:
        return actions.connection_settings_update(connection=resource, changes=dict(values), actor=actor)
    if "auth_type" in values:
        raise ActionRefused("The authentication mode follows the allowed IPs: restore those instead.")
    current = watched_values(IPROXY_ACCESS, resource.upstream)
    if "login" in values or "password" in values:
        # iProxy takes a login and a password together: the one not restored stays as upstream has it.
        resource = actions.access_update(
            access=resource,
            actor=actor,
            login=values.get("login", current.get("login")),
            password=values.get("password", current.get("password")),
        )
    if "acl_inbound_ips" in values:
        resource = actions.access_update(access=resource, actor=actor, acl_inbound_ips=list(values["acl_inbound_ips"]))
    if "listen_service" in values:
        resource = actions.access_set_connection(
            access=resource,
            actor=actor,
            listen_service=values["listen_service"],
            allowed_ips=list(current.get("acl_inbound_ips", [])),
        )
    return resource

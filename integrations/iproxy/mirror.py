"""What iProxy connections and their proxy accesses become in the mirror, and reading every list the sync keeps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from integrations.iproxy import client as iproxy
from integrations.iproxy.kinds import IPROXY_ACCESS, IPROXY_CONNECTION
from inventory.mirror import Row
from inventory.models import Resource, ResourceStatus

# iProxy online statuses that mean the phone is not serving traffic right now.
OFFLINE_STATUSES = frozenset({"offline", "flapping", "nodata"})


def iproxy_connection_row(
    connection: iproxy.Connection, online: iproxy.ConnectionStatus | None, now: dt.datetime
) -> Row:
    online_status = online.online_status if online is not None else None
    plan = connection.active_plan
    if plan is None or plan.expires_at <= now:
        status = ResourceStatus.EXPIRED
    elif online_status in OFFLINE_STATUSES:
        status = ResourceStatus.OFFLINE
    else:
        status = ResourceStatus.ACTIVE
    return Row(
        kind=IPROXY_CONNECTION,
        upstream_id=connection.id,
        label=connection.basic_info.name,
        status=status,
        expires_at=plan.expires_at if plan is not None else None,
        # The status list's fields ride along: alerts date an outage by `last_online_status_update`.
        upstream={**connection.raw, **_status_fields(online)},
    )


def _status_fields(online: iproxy.ConnectionStatus | None) -> dict[str, Any]:
    if online is None:
        return {}
    return {key: online.raw[key] for key in ("online_status", "last_online_status_update") if key in online.raw}


def online_status(connection: Resource) -> str:
    """The phone's online status (Connection control 12) that the sync keeps on it; "unknown" before any."""
    return (connection.upstream or {}).get("online_status", "unknown")


def iproxy_access_row(access: iproxy.ProxyAccess, parent_status: str | None, now: dt.datetime) -> Row:
    if access.expires_at is not None and access.expires_at <= now:
        status = ResourceStatus.EXPIRED
    else:
        status = parent_status or ResourceStatus.ACTIVE
    return Row(
        kind=IPROXY_ACCESS,
        upstream_id=access.id,
        label=f"{access.hostname or access.ip}:{access.port}",
        status=status,
        expires_at=access.expires_at,
        upstream=access.raw,
        parent_id=access.connection_id,
    )


def read_rows(client: iproxy.Client, now: dt.datetime) -> list[Row]:
    connections = client.list_connections()
    online = {status.connection_id: status for status in client.connection_statuses()}
    accesses = client.list_all_proxy_accesses()
    rows = [iproxy_connection_row(connection, online.get(connection.id), now) for connection in connections]
    status_of = {row.upstream_id: row.status for row in rows}
    return rows + [iproxy_access_row(access, status_of.get(access.connection_id), now) for access in accesses]

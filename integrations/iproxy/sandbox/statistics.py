"""The iProxy twin's traffic, uptime and IP-history figures, derived from (salt, connection, hour) and never stored."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from integrations.iproxy.sandbox.state import HOUR, Connection, iso
from providers.http.parsing import format_rfc3339


def hour_hash(salt: int, cid: str, hour: int, kind: str) -> int:
    digest = hashlib.sha256(f"{salt}:{cid}:{hour}:{kind}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def hours_between(connection: Connection, low: float, high: float, now: float) -> list[int]:
    """The hour starts in [low, high) that the connection existed for, up to now.

    `to` ends the range without belonging to it (document 004 is silent; its example asks for a month as
    from the 1st to the 1st): a range up to midnight has no hour of the next day.
    """
    first = int(max(low, connection.created_at) // HOUR) * HOUR
    last = min(high, now)
    return [hour for hour in range(first, int(last) + 1, HOUR) if hour < high] if first <= last else []


def hour_status(salt: int, connection: Connection, hour: int) -> str | None:
    """UP or DOWN for the hour, or None where there is no data."""
    if hour + HOUR <= connection.created_at:
        return None
    if hour + HOUR > connection.status_at and connection.status in ("nodata", "offline"):
        return None if connection.status == "nodata" else "DOWN"
    odds = 2 if connection.status == "flapping" else 30
    return "DOWN" if hour_hash(salt, connection.id, hour, "up") % odds == 0 else "UP"


def uptime(salt: int, connection: Connection, hours: list[int]) -> list[dict[str, str]]:
    """The uptime entries of the hours that have data."""
    statuses = ((hour, hour_status(salt, connection, hour)) for hour in hours)
    return [{"date": iso(h), "status": s} for h, s in statuses if s is not None]


def port_hours(
    salt: int, connection: Connection, ports: list[int], hours: list[int]
) -> dict[int, list[tuple[int, int, int]]]:
    """port -> [(hour, in_bytes, out_bytes)] for the connection's proxy ports."""
    table: dict[int, list[tuple[int, int, int]]] = {port: [] for port in ports}
    for hour in hours:
        if hour_status(salt, connection, hour) != "UP":
            continue
        for port in ports:
            value = hour_hash(salt, connection.id, hour, f"traffic:{port}")
            in_bytes = value % 50_000_000
            table[port].append((hour, in_bytes, in_bytes // (4 + value % 5)))
    return table


def traffic_by_hour_port(salt: int, connection: Connection, ports: list[int], hours: list[int]) -> list[dict[str, Any]]:
    """The traffic of each proxy port, hour by hour, with its totals."""
    stats = []
    for port, points in port_hours(salt, connection, ports, hours).items():
        stats.append(
            {
                "port": str(port),
                "total_in_bytes": sum(p[1] for p in points),
                "total_out_bytes": sum(p[2] for p in points),
                "hourly_stats": [{"date": iso(h), "in_bytes": i, "out_bytes": o} for h, i, o in points],
            }
        )
    return stats


def traffic_by_day(
    salt: int, connection: Connection, ports: list[int], hours: list[int], zone: dt.tzinfo
) -> dict[str, Any]:
    """The traffic of all proxy ports, summed by day in the time zone `zone`, with its totals."""
    days: dict[dt.date, list[int]] = {}
    for hour in hours:
        days.setdefault(dt.datetime.fromtimestamp(hour, tz=zone).date(), [0, 0])
    for points in port_hours(salt, connection, ports, hours).values():
        for hour, in_bytes, out_bytes in points:
            totals = days[dt.datetime.fromtimestamp(hour, tz=zone).date()]
            totals[0] += in_bytes
            totals[1] += out_bytes
    daily = []
    for day, (in_bytes, out_bytes) in sorted(days.items()):
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
        date = format_rfc3339(midnight) if zone is dt.UTC else midnight.isoformat()
        daily.append({"date": date, "in_bytes": in_bytes, "out_bytes": out_bytes})
    return {
        "total_in_bytes": sum(d["in_bytes"] for d in daily),
        "total_out_bytes": sum(d["out_bytes"] for d in daily),
        "daily_stats": daily,
    }


def ip_entries(salt: int, connection: Connection, low: float, high: float, now: float) -> list[dict[str, str]]:
    """IP changes in [low, high]: derived ones (about one in four hours) plus those made by commands."""
    first = int(max(low, connection.created_at) // HOUR) * HOUR
    moments: list[tuple[float, str, str]] = []
    for hour in range(first, int(min(high, now)) + 1, HOUR):
        value = hour_hash(salt, connection.id, hour, "ip")
        moment = hour + value % HOUR
        if value % 4 or not low <= moment <= min(high, now) or moment < connection.created_at:
            continue
        ipv4 = f"100.{64 + (value >> 8) % 64}.{(value >> 16) % 256}.{1 + (value >> 24) % 254}"
        ipv6 = f"2a00:{(value >> 32) % 65536:x}::{(value >> 48) % 65536:x}" if value % 8 == 0 else ""
        moments.append((moment, ipv4, ipv6))
    moments += [(moment, ip, "") for moment, ip in connection.ip_changes if low <= moment <= high]
    return [{"date": iso(m), "ipv4": ipv4, "ipv6": ipv6} for m, ipv4, ipv6 in sorted(moments)]

"""The traffic the sync reads for the usage history of iProxy phones and their proxy accesses.

iProxy has no running total of traffic: it counts it per hour and proxy port (Connection statistics 2,
`traffic/by-hour-port`). So each sync reads, for each live phone (a plan that has not expired), the hours that
closed since the phone's history ends, in one call; the core adds each hour to the running totals of the
phone (all its ports) and of each proxy access (its port), one sample per hour with traffic
(`inventory.usage.usage_record_growth`). Only closed hours count: an hour still running would be counted
again when it closes. A phone already read up to the current hour costs no call, so a phone costs at most
one call an hour however often the sync runs.

The calls run READERS at a time and the sync waits at most BUDGET_SECONDS for them; a phone not read in
time, or whose read failed, is reported on the sync run and read again (from the same hour) at the next sync.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait

from integrations.iproxy import client as iproxy
from integrations.iproxy.kinds import IPROXY_ACCESS, IPROXY_CONNECTION
from inventory.mirror import Row
from inventory.models import ResourceStatus
from inventory.usage import hour_start
from providers.http import errors
from providers.registry import UsageGrowth, UsageProblem, UsageReading

logger = logging.getLogger(__name__)

HOUR = dt.timedelta(hours=1)
# Calls in flight at once: latency overlaps, and the upstream sees a few requests, not a burst.
READERS = 4
# How long the sync waits for all the traffic reads; what is not read by then is read at the next sync.
BUDGET_SECONDS = 60.0
# A phone's first read goes back this far (the 24-hour chart is full at once); after a gap of reads, at most
# this far back (older hours are not counted).
FIRST_READ = dt.timedelta(hours=24)
CATCH_UP = dt.timedelta(days=7)


def read_traffic(
    client: iproxy.Client,
    rows: list[Row],
    *,
    read_until: Mapping[tuple[str, str], dt.datetime],
    now: dt.datetime,
    budget_seconds: float | None = None,
) -> UsageReading:
    """The traffic of every live phone's closed hours since its history ends, per phone and per access."""
    end = hour_start(now)
    windows: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    for row in rows:
        if row.kind != IPROXY_CONNECTION or row.status == ResourceStatus.EXPIRED:
            continue
        start = max(hour_start(read_until.get((row.kind, row.upstream_id), end - FIRST_READ)), end - CATCH_UP)
        if start < end:
            windows[row.upstream_id] = (start, end)
    accesses: dict[str, dict[str, str]] = {}  # phone -> port -> access
    for row in rows:
        if row.kind == IPROXY_ACCESS and row.parent_id in windows:
            accesses.setdefault(row.parent_id, {})[str(row.upstream.get("port"))] = row.upstream_id
    stats, problems = _read_all(client, windows, BUDGET_SECONDS if budget_seconds is None else budget_seconds)
    growth: list[UsageGrowth] = []
    for connection_id, ports in stats.items():
        start, until = windows[connection_id]
        growth += phone_growth(connection_id, ports, accesses.get(connection_id, {}), start=start, end=until)
    return UsageReading(growth=tuple(growth), problems=tuple(problems))


def phone_growth(
    connection_id: str,
    ports: list[iproxy.PortTraffic],
    accesses: Mapping[str, str],
    *,
    start: dt.datetime,
    end: dt.datetime,
) -> list[UsageGrowth]:
    """Each closed hour in [start, end) with traffic, for the phone (every port) and for the access on each port.

    The phone also gets a last entry at `end`, with growth 0 when that hour had none: its history then
    says how far its traffic was read (the next read starts there).
    """
    phone: dict[dt.datetime, int] = {}
    growth = []
    for port in ports:
        access = accesses.get(port.port)
        for point in port.hourly_stats:
            hour = point.date.astimezone(dt.UTC)
            used = point.in_bytes + point.out_bytes
            if hour < start or hour + HOUR > end or used <= 0:
                continue  # outside the window, still running, or nothing used
            phone[hour] = phone.get(hour, 0) + used
            if access is not None:
                growth.append(UsageGrowth(IPROXY_ACCESS, access, hour, hour + HOUR, used))
    growth += [UsageGrowth(IPROXY_CONNECTION, connection_id, hour, hour + HOUR, used) for hour, used in phone.items()]
    if end - HOUR not in phone:
        growth.append(UsageGrowth(IPROXY_CONNECTION, connection_id, end - HOUR, end, 0))
    return growth


def _read_all(
    client: iproxy.Client, windows: Mapping[str, tuple[dt.datetime, dt.datetime]], budget_seconds: float
) -> tuple[dict[str, list[iproxy.PortTraffic]], list[UsageProblem]]:
    """One `traffic_by_hour_and_port` call per phone, READERS at a time, for at most `budget_seconds`."""
    if not windows:
        return {}, []
    slow_down = threading.Event()  # iProxy answered 429: the phones not read yet wait for the next sync

    def read(connection_id: str, start: dt.datetime, end: dt.datetime) -> list[iproxy.PortTraffic] | None:
        if slow_down.is_set():
            return None
        try:
            return client.traffic_by_hour_and_port(connection_id, start=start, end=end)
        except errors.RateLimitedError:
            slow_down.set()
            raise

    executor = ThreadPoolExecutor(max_workers=min(READERS, len(windows)), thread_name_prefix="iproxy-traffic")
    futures: dict[Future, str] = {
        executor.submit(read, connection_id, start, end): connection_id
        for connection_id, (start, end) in windows.items()
    }
    _, late = wait(futures, timeout=budget_seconds)
    # A call still running finishes in its thread; its answer is not waited for.
    executor.shutdown(wait=False, cancel_futures=True)
    stats: dict[str, list[iproxy.PortTraffic]] = {}
    problems = []
    for future, connection_id in futures.items():
        if future in late:
            reason = f"its traffic was not read within the sync's {budget_seconds:g} s: read at the next sync"
        elif (failure := future.exception()) is not None:
            if not isinstance(failure, errors.ProviderError):
                logger.error("iProxy traffic of %s", connection_id, exc_info=failure)
            reason = f"its traffic could not be read ({_message(failure)}): read at the next sync"
        elif (answer := future.result()) is None:
            reason = "its traffic was not read (iProxy asked us to slow down): read at the next sync"
        else:
            stats[connection_id] = answer
            continue
        problems.append(UsageProblem(IPROXY_CONNECTION, connection_id, reason))
    return stats, problems


def _message(failure: BaseException) -> str:
    if isinstance(failure, errors.ProviderError):
        return str(failure)
    return type(failure).__name__

"""Usage history: the samples the sync writes, folding them (hourly, then daily) and pruning, charts, projection.

The sync stores a sample (`UsageSample`) each time it writes a resource with a usage counter, that is each
time the counter or anything else about the resource changed: a counter that stands still needs no new
sample, so a chart carries the last value forward. `usage_downsample()` (a beat task, hourly) keeps, per
resource, the last sample of each past hour, after HOURLY_FOR the last of each day, and after DAILY_FOR none:
at most a few raw samples, 168 hourly and 365 daily per resource.

Some upstreams count usage per period (an hour, say) rather than as a running total: their integration reads
the growth apart from its rows (`Integration.read_usage`), and `usage_record_growth()` adds it to each
resource's running total, one sample at the end of each period. Such a counter lives only in the samples (the
row has no `data_used_bytes`), so a total that moves every sync never rewrites the row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, Min, OuterRef, Subquery
from django.utils import timezone

from inventory.mirror import fits_bigint
from inventory.models import Resource, UsageSample
from ops.units import format_gb as gb
from providers.registry import UsageGrowth, UsageReading

HOURLY_FOR = dt.timedelta(days=7)
DAILY_FOR = dt.timedelta(days=365)
# The projection's rate is the growth over this window (at least MIN_RATE_SPAN of history).
RATE_WINDOW = dt.timedelta(days=7)
MIN_RATE_SPAN = dt.timedelta(hours=1)
DELETE_BATCH = 1000
WRITE_BATCH = 1000

Resolution = UsageSample.Resolution


# Usage read apart from the rows ---------------------------------------------------------------------------


def _with_last_sample(resources):
    latest = UsageSample.objects.filter(resource=OuterRef("pk")).order_by("-at", "-pk")
    return resources.annotate(
        last_at=Subquery(latest.values("at")[:1]), last_used=Subquery(latest.values("bytes_used")[:1])
    )


def usage_read_until(*, account, kinds: Iterable[str]) -> dict[tuple[str, str], dt.datetime]:
    """Where the usage history of each of this account's resources of these kinds ends (its last sample):
    what an integration that reads usage apart from its rows reads from next. One query."""
    rows = _with_last_sample(Resource.objects.filter(account=account, kind__in=list(kinds))).filter(
        last_at__isnull=False
    )
    return {(kind, upstream_id): at for kind, upstream_id, at in rows.values_list("kind", "upstream_id", "last_at")}


def usage_read_apart(*, integration, client, account, rows: list, now: dt.datetime) -> UsageReading:
    """The usage an integration reads apart from its rows (nothing for most), from where each history ends."""
    if not integration.reads_usage_apart:
        return UsageReading()
    read_until = usage_read_until(account=account, kinds=[kind.value for kind in integration.resource_kinds])
    return integration.read_usage(client, rows, read_until=read_until, now=now)


def usage_record_growth(*, account, growth: Iterable[UsageGrowth]) -> int:
    """Add each period's growth to its resource's running total, as a sample at the period's end; returns
    how many samples were written.

    A period that ends at or before the resource's last sample was counted already (read twice: skipped). A
    resource's first reading starts from a zero sample at the start of its first period, so the charts show
    that period's use. A resource the mirror does not hold (its row was refused) is skipped.
    """
    by_resource: dict[tuple[str, str], list[UsageGrowth]] = {}
    for entry in growth:
        by_resource.setdefault((entry.kind, entry.upstream_id), []).append(entry)
    if not by_resource:
        return 0
    resources = _with_last_sample(
        Resource.objects.filter(account=account, kind__in={kind for kind, _ in by_resource})
    ).values_list("kind", "upstream_id", "pk", "last_at", "last_used")
    samples = []
    for kind, upstream_id, pk, last_at, total in resources.iterator(chunk_size=2000):
        for entry in sorted(by_resource.get((kind, upstream_id), ()), key=lambda entry: entry.end):
            if (last_at is not None and entry.end <= last_at) or entry.bytes_used < 0:
                continue
            if total is None:
                samples.append(UsageSample(resource_id=pk, at=entry.start, bytes_used=0))
                total = 0
            if not fits_bigint(total + entry.bytes_used):
                break  # no bigint holds it: the history stops growing rather than wrapping
            total += entry.bytes_used
            last_at = entry.end
            samples.append(UsageSample(resource_id=pk, at=entry.end, bytes_used=total))
    UsageSample.objects.bulk_create(samples, batch_size=WRITE_BATCH)
    return len(samples)


# Folding and pruning -------------------------------------------------------------------------------------


def usage_downsample(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Fold raw samples of past hours into one per hour, hourly samples past HOURLY_FOR into one per day,
    and delete what is older than DAILY_FOR; returns how many samples each step removed."""
    now = now or timezone.now()
    this_hour = hour_start(now)
    hourly_until = _day(now - HOURLY_FOR)
    pruned, _ = UsageSample.objects.filter(at__lt=now - DAILY_FOR).delete()
    return {
        "hourly": _fold(Resolution.RAW, Resolution.HOUR, before=this_hour, bucket=hour_start),
        "daily": _fold(Resolution.HOUR, Resolution.DAY, before=hourly_until, bucket=_day),
        "pruned": pruned,
    }


def hour_start(moment: dt.datetime) -> dt.datetime:
    """The start of the UTC hour this moment is in."""
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _day(moment: dt.datetime) -> dt.datetime:
    return hour_start(moment).replace(hour=0)


def _fold(source: str, target: str, *, before: dt.datetime, bucket) -> int:
    """Keep the last sample of each resource and period (now `target`), delete the others; streams the rows."""
    samples = (
        UsageSample.objects.filter(resolution__in=[source, target], at__lt=before)
        .order_by("resource_id", "at", "pk")
        .values_list("pk", "resource_id", "at", "resolution")
        .iterator(chunk_size=5000)
    )
    doomed: list[int] = []
    promoted: list[int] = []
    removed = 0
    current: tuple[int, dt.datetime] | None = None
    keeper: tuple[int, str] | None = None
    for pk, resource_id, at, resolution in samples:
        period = (resource_id, bucket(at))
        if period != current:
            if keeper is not None and keeper[1] != target:
                promoted.append(keeper[0])
            current = period
        elif keeper is not None:
            doomed.append(keeper[0])  # a later sample of the same period replaces it
        keeper = (pk, resolution)
        if len(doomed) >= DELETE_BATCH or len(promoted) >= DELETE_BATCH:
            removed += _apply(doomed, promoted, target)
            doomed, promoted = [], []
    if keeper is not None and keeper[1] != target:
        promoted.append(keeper[0])
    return removed + _apply(doomed, promoted, target)


def _apply(doomed: list[int], promoted: list[int], target: str) -> int:
    with transaction.atomic():
        UsageSample.objects.filter(pk__in=promoted).update(resolution=target)
        removed, _ = UsageSample.objects.filter(pk__in=doomed).delete()
    return removed


# Projection --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """How fast a resource uses its data, and when it runs out at that rate (None: it does not)."""

    bytes_per_day: float
    runs_out_at: dt.datetime | None


def project(
    *, used: int, limit: int | None, first_at: dt.datetime, first_used: int, now: dt.datetime
) -> Projection | None:
    """The straight line from the window's first sample to the current counter; None without enough history."""
    span = now - first_at
    if span < MIN_RATE_SPAN or used < first_used:  # too short, or the counter was reset
        return None
    per_second = (used - first_used) / span.total_seconds()
    runs_out_at = None
    if limit and per_second > 0:
        left = max(0, limit - used)
        seconds = left / per_second
        runs_out_at = now + dt.timedelta(seconds=seconds) if seconds < DAILY_FOR.total_seconds() * 10 else None
    return Projection(bytes_per_day=per_second * 86_400, runs_out_at=runs_out_at)


def projections(resources: Iterable[Resource], *, now: dt.datetime | None = None) -> dict[int, Projection]:
    """The projection of each of these resources that has enough history, from one grouped query.

    A counter kept only in the samples (no `data_used_bytes`: usage read apart from the rows, always growing)
    is read at its last sample, and the rate runs to that sample rather than to now.
    """
    now = now or timezone.now()
    by_pk = {resource.pk: resource for resource in resources}
    windows = (
        UsageSample.objects.filter(resource_id__in=by_pk, at__gte=now - RATE_WINDOW, at__lte=now)
        .values("resource_id")
        .annotate(first_at=Min("at"), first_used=Min("bytes_used"), last_at=Max("at"), last_used=Max("bytes_used"))
    )
    found = {}
    for window in windows:
        resource = by_pk[window["resource_id"]]
        on_row = resource.data_used_bytes is not None
        projection = project(
            used=resource.data_used_bytes if on_row else window["last_used"],
            limit=resource.data_limit_bytes,
            first_at=window["first_at"],
            first_used=window["first_used"],
            now=now if on_row else window["last_at"],
        )
        if projection is not None:
            found[resource.pk] = projection
    return found


def projected_exhaustion(resource: Resource, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """When this resource's data runs out at its recent rate (None: no limit, no growth, or too little history).

    For alerts, pages and auto top-up. A resource already at its limit ran out: the answer is `now`.
    """
    now = now or timezone.now()
    if not resource.data_limit_bytes or resource.data_used_bytes is None:
        return None
    if resource.data_used_bytes >= resource.data_limit_bytes:
        return now
    projection = projections([resource], now=now).get(resource.pk)
    return projection.runs_out_at if projection else None


# Charts ------------------------------------------------------------------------------------------------

CHART_HEIGHT = 120
BAR_WIDTH = 14
BAR_GAP = 4


@dataclass(frozen=True)
class Bar:
    x: int
    y: float
    height: float
    title: str
    label: str


def usage_history(resource: Resource, *, now: dt.datetime | None = None) -> dict | None:
    """What the usage charts show: bytes used per hour (last 24 hours) and per day (last 30 days), and the
    projection. None for a resource without a usage counter (on its row or in its samples)."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=30)
    before = UsageSample.objects.filter(resource=resource, at__lt=since).aggregate(last=Max("at"))["last"]
    samples = list(
        UsageSample.objects.filter(resource=resource, at__gte=before or since, at__lte=now)
        .order_by("at", "pk")
        .values_list("at", "bytes_used")
    )
    if resource.data_used_bytes is None and not samples:
        return None
    hour_ends = [hour_start(now) + dt.timedelta(hours=1) - dt.timedelta(hours=23 - index) for index in range(24)]
    day_ends = [_day(now) + dt.timedelta(days=1) - dt.timedelta(days=29 - index) for index in range(30)]
    hourly = _bars(samples, hour_ends, dt.timedelta(hours=1), "%H:00", every=6)
    daily = _bars(samples, day_ends, dt.timedelta(days=1), "%d %b", every=7)
    projection = projections([resource], now=now).get(resource.pk)
    exhaustion = projected_exhaustion(resource, now=now)
    return {
        "charts": [
            {"title": "Last 24 hours, per hour", "series": hourly},
            {"title": "Last 30 days, per day", "series": daily},
        ],
        "height": CHART_HEIGHT,
        "label_y": CHART_HEIGHT + 14,
        "svg_height": CHART_HEIGHT + 20,
        "rate": gb(round(projection.bytes_per_day)) if projection else None,
        "runs_out_at": exhaustion,
        "has_limit": bool(resource.data_limit_bytes),
        "exhausted": bool(resource.data_limit_bytes)
        and resource.data_used_bytes is not None
        and resource.data_used_bytes >= resource.data_limit_bytes,
    }


def _bars(samples: list[tuple[dt.datetime, int]], ends: list[dt.datetime], step: dt.timedelta, fmt: str, every: int):
    """One bar per period: the counter's growth from the period's start to its end (carried forward)."""
    values = [_value_at(samples, ends[0] - step)] + [_value_at(samples, end) for end in ends]
    used = [_growth(values[index], values[index + 1]) for index in range(len(ends))]
    peak = max(used, default=0) or 1
    bars = []
    for index, (end, amount) in enumerate(zip(ends, used, strict=True)):
        height = amount / peak * CHART_HEIGHT
        start = timezone.localtime(end - step)
        bars.append(
            Bar(
                x=index * (BAR_WIDTH + BAR_GAP),
                y=round(CHART_HEIGHT - height, 2),
                height=round(height, 2),
                title=f"{start:%Y-%m-%d %H:%M}: {gb(amount)}",
                label=f"{start:{fmt}}" if index % every == 0 or index == len(ends) - 1 else "",
            )
        )
    return {
        "bars": bars,
        "width": len(ends) * (BAR_WIDTH + BAR_GAP),
        "total": gb(sum(used)),
        "peak": gb(max(used, default=0)),
        "empty": not any(used),
    }


def _value_at(samples: list[tuple[dt.datetime, int]], moment: dt.datetime) -> int | None:
    """The counter at a moment: the last sample at or before it (None before the first sample)."""
    value = None
    for at, bytes_used in samples:
        if at > moment:
            break
        value = bytes_used
    return value


def _growth(start: int | None, end: int | None) -> int:
    """Bytes used between two counter readings; before the first sample nothing is known (0)."""
    if start is None or end is None:
        return 0
    if end < start:  # the counter was reset: all of `end` is new
        return end
    return end - start

"""iProxy traffic in the usage history: the sync reads each live phone's closed hours (per port) against the
sandbox twin, keeps running totals in usage samples only, reports a failed read, and the charts show them."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.iproxy import traffic
from integrations.iproxy.kinds import IPROXY_ACCESS, IPROXY_CONNECTION
from inventory.models import Resource, SyncRun, UsageSample
from inventory.sync import sync_account
from inventory.usage import hour_start, projections, usage_history, usage_read_until, usage_record_growth
from providers import registry
from providers.registry import UsageGrowth
from tests.api.conftest import KeyClient, key_for
from tests.inventory.test_sync import by_label, resource_writes, unique_account
from tests.support.pages import page

HOUR = dt.timedelta(hours=1)
ONLINE, OFFLINE = "online with plan", "offline with plan"


@pytest.fixture
def account(db):
    return unique_account("iproxy")


@pytest.fixture
def clock(sandbox, monkeypatch):
    """Moves the sandbox's clock and ours together (the sync reads the hours that closed by our `now`)."""
    real_now = timezone.now
    offset = dt.timedelta()

    def advance(delta: dt.timedelta) -> dt.datetime:
        nonlocal offset
        sandbox.control("clock", {"advance_seconds": int(delta.total_seconds())})
        offset += delta
        return timezone.now()

    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
    return advance


def history(resource):
    return list(resource.usage_samples.order_by("at", "pk").values_list("at", "bytes_used"))


def upstream_traffic(account, connection_id, start, end):
    """What iProxy counts for each port in the closed hours of [start, end), read with our client."""
    client = registry.for_account(account).client(account)
    totals = {}
    for port in client.traffic_by_hour_and_port(connection_id, start=start, end=end):
        totals[port.port] = sum(
            point.in_bytes + point.out_bytes
            for point in port.hourly_stats
            if start <= point.date and point.date + HOUR <= end
        )
    return totals


def traffic_calls(sandbox):
    return [call for call in sandbox.calls("GET") if "/traffic/by-hour-port" in call.request.url]


# What the sync writes --------------------------------------------------------------------------------------


def test_a_first_sync_samples_the_last_day_of_every_live_phone_and_its_accesses(sandbox, account):
    run = sync_account(account=account)
    calls = len(traffic_calls(sandbox))

    assert run.outcome == SyncRun.Outcome.OK and run.problem_count == 0
    phones = by_label(account, IPROXY_CONNECTION)
    end = hour_start(run.started_at)
    start = end - traffic.FIRST_READ
    totals = {}
    for label in (ONLINE, OFFLINE):
        phone = phones[label]
        ports = upstream_traffic(account, phone.upstream_id, start, end)
        totals[label] = sum(ports.values())
        samples = history(phone)
        # A zero at the window's start, then the running total at the end of each hour with traffic.
        assert samples[0][1] == 0 and samples[0][0] >= start
        assert samples[-1] == (end, sum(ports.values()))
        assert all(at.minute == 0 and at.second == 0 for at, _ in samples)
        assert [used for _, used in samples] == sorted(used for _, used in samples)
        for access in phone.children.all():
            assert history(access)[-1][1] == ports[str(access.upstream["port"])]
    assert totals[ONLINE] > totals[OFFLINE] > 0  # the offline phone had traffic until it went offline
    # Phones without a live plan are not read, nor their accesses sampled.
    assert calls == 2
    for label in ("flapping, plan expired", "new phone, no data"):
        assert not UsageSample.objects.filter(resource__in=[phones[label], *phones[label].children.all()]).exists()
    # The counter lives in the samples: the rows keep no usage figure.
    assert not Resource.objects.filter(account=account, data_used_bytes__isnull=False).exists()


def test_a_resync_in_the_same_hour_reads_no_traffic_and_writes_nothing(sandbox, account):
    sync_account(account=account)
    samples = UsageSample.objects.filter(resource__account=account).count()
    calls = len(traffic_calls(sandbox))

    with CaptureQueriesContext(connection) as queries:
        run = sync_account(account=account)

    if hour_start(run.started_at) != hour_start(timezone.now()):
        pytest.skip("the hour turned during the test")
    assert (run.updated, run.unchanged, run.problem_count) == (0, 8, 0)
    assert resource_writes(queries) == []
    assert UsageSample.objects.filter(resource__account=account).count() == samples
    assert len(traffic_calls(sandbox)) == calls


def test_traffic_grows_as_the_clock_advances_and_only_samples_are_written(sandbox, account, clock):
    first = sync_account(account=account)
    online = by_label(account, IPROXY_CONNECTION)[ONLINE]
    before = history(online)[-1]

    now = clock(3 * HOUR)
    with CaptureQueriesContext(connection) as queries:
        run = sync_account(account=account)

    start, end = hour_start(first.started_at), hour_start(now)
    ports = upstream_traffic(account, online.upstream_id, start, end)
    after = history(online)
    assert after[-1] == (end, before[1] + sum(ports.values()))
    assert [at for at, _ in after if at > before[0]] == [start + HOUR, start + 2 * HOUR, end]
    for access in online.children.all():
        assert history(access)[-1][1] - history(access)[0][1] >= ports[str(access.upstream["port"])]
    # The traffic moved, the phones did not: no resource row is rewritten.
    assert (run.updated, run.problem_count) == (0, 0)
    assert resource_writes(queries) == []


def test_a_failed_traffic_read_is_reported_and_the_rest_of_the_sync_is_written(sandbox, account):
    sync_account(account=account)  # learn the phones' ids
    online = by_label(account, IPROXY_CONNECTION)[ONLINE]
    other = unique_account("iproxy")
    rule = {"provider": "iproxy", "match": f"GET /connections/{online.upstream_id}/traffic", "kind": "status"}
    sandbox.control("faults", {"rules": [{**rule, "status": 403, "times": 1}]})

    run = sync_account(account=other)

    assert run.outcome == SyncRun.Outcome.OK
    assert run.created == 8
    assert run.problem_count == 1
    [problem] = run.problems
    assert problem["kind"] == IPROXY_CONNECTION and problem["upstream_id"] == online.upstream_id
    assert "traffic could not be read" in problem["reason"] and "next sync" in problem["reason"]
    phones = by_label(other, IPROXY_CONNECTION)
    assert not phones[ONLINE].usage_samples.exists()
    assert phones[OFFLINE].usage_samples.exists()
    other.refresh_from_db()
    assert online.upstream_id in other.last_error

    # The next sync reads it (the fault is spent), from the same first-read window.
    again = sync_account(account=other)
    assert again.problem_count == 0
    assert history(phones[ONLINE])[-1] == history(online)[-1]


def test_phones_are_read_concurrently_within_a_time_budget(sandbox, account):
    sync_account(account=account)
    client = registry.for_account(account).client(account)
    rows = registry.for_account(account).read(client, timezone.now())
    now = timezone.now()
    latency = {"provider": "iproxy", "match": "GET /connections/", "kind": "latency", "ms": 600, "times": 2}

    sandbox.control("faults", {"rules": [latency]})
    started = time.monotonic()
    reading = traffic.read_traffic(client, rows, read_until={}, now=now)
    elapsed = time.monotonic() - started
    assert not reading.problems
    assert {entry.upstream_id for entry in reading.growth if entry.kind == IPROXY_CONNECTION} == {
        phone.upstream_id for label, phone in by_label(account, IPROXY_CONNECTION).items() if label in (ONLINE, OFFLINE)
    }
    assert elapsed < 1.1  # two 0.6 s reads overlapped

    sandbox.control("faults", {"rules": [{**latency, "ms": 1500, "times": 1}]})
    reading = traffic.read_traffic(client, rows, read_until={}, now=now, budget_seconds=0.5)
    [problem] = reading.problems
    assert "not read within the sync's 0.5 s" in problem.reason


def test_a_rate_limit_stops_the_reads_until_the_next_sync(sandbox, account, monkeypatch):
    sync_account(account=account)
    monkeypatch.setattr(traffic, "READERS", 1)
    client = registry.for_account(account).client(account)
    client.retries = 0
    rows = registry.for_account(account).read(client, timezone.now())
    rule = {"provider": "iproxy", "match": "GET /connections/", "kind": "rate_limit", "retry_after": 60, "times": 1}
    sandbox.control("faults", {"rules": [rule]})

    reading = traffic.read_traffic(client, rows, read_until={}, now=timezone.now())

    reasons = sorted(problem.reason for problem in reading.problems)
    assert len(reasons) == 2 and not reading.growth
    assert "could not be read" in reasons[0] and "slow down" in reasons[1]


# The running totals ----------------------------------------------------------------------------------------


def test_an_hour_read_twice_is_counted_once(account):
    phone = Resource.objects.create(account=account, kind=IPROXY_CONNECTION, upstream_id="p1", label="p1")
    ten = timezone.now().astimezone(dt.UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    hours = [UsageGrowth(IPROXY_CONNECTION, "p1", ten + n * HOUR, ten + (n + 1) * HOUR, 5) for n in range(2)]

    assert usage_record_growth(account=account, growth=hours) == 3
    assert usage_record_growth(account=account, growth=hours) == 0
    later = UsageGrowth(IPROXY_CONNECTION, "p1", ten + 2 * HOUR, ten + 3 * HOUR, 7)
    assert usage_record_growth(account=account, growth=[*hours, later]) == 1

    assert history(phone) == [(ten, 0), (ten + HOUR, 5), (ten + 2 * HOUR, 10), (ten + 3 * HOUR, 17)]
    assert usage_read_until(account=account, kinds=[IPROXY_CONNECTION]) == {(IPROXY_CONNECTION, "p1"): ten + 3 * HOUR}
    # Growth for a resource the mirror does not hold is skipped.
    assert usage_record_growth(account=account, growth=[UsageGrowth(IPROXY_ACCESS, "x", ten, ten + HOUR, 1)]) == 0


def test_the_running_hour_and_hours_outside_the_window_are_not_counted():
    point = traffic.iproxy.TrafficPoint
    ten = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    port = traffic.iproxy.PortTraffic(
        port="20001",
        total_in_bytes=0,
        total_out_bytes=0,
        hourly_stats=tuple(point(ten + n * HOUR, 100, 10) for n in (-1, 0, 1, 2)),
    )

    growth = traffic.phone_growth("p1", [port], {"20001": "a1"}, start=ten, end=ten + 2 * HOUR)

    assert [(g.kind, g.upstream_id, g.start, g.bytes_used) for g in growth] == [
        (IPROXY_ACCESS, "a1", ten, 110),
        (IPROXY_ACCESS, "a1", ten + HOUR, 110),
        (IPROXY_CONNECTION, "p1", ten, 110),
        (IPROXY_CONNECTION, "p1", ten + HOUR, 110),
    ]
    # An hour without traffic at the end still marks how far the phone was read.
    quiet = traffic.phone_growth("p1", [port], {}, start=ten, end=ten + 4 * HOUR)
    assert quiet[-1] == UsageGrowth(IPROXY_CONNECTION, "p1", ten + 3 * HOUR, ten + 4 * HOUR, 0)


def test_the_rate_of_a_counter_kept_in_samples_runs_to_its_last_sample(account):
    phone = Resource.objects.create(account=account, kind=IPROXY_CONNECTION, upstream_id="p1", label="p1")
    now = timezone.now()
    last = hour_start(now)
    usage_record_growth(
        account=account,
        growth=[UsageGrowth(IPROXY_CONNECTION, "p1", last - 24 * HOUR, last, 48 * 10**9)],
    )

    projection = projections([phone], now=now)[phone.pk]

    assert projection.bytes_per_day == pytest.approx(48 * 10**9)
    assert projection.runs_out_at is None  # no limit to run out of


# Charts ---------------------------------------------------------------------------------------------------


def test_staff_and_customer_see_the_traffic_history_with_constant_queries(
    client, sandbox, account, clock, owner, alice, customer_a
):
    sync_account(account=account)
    phone = by_label(account, IPROXY_CONNECTION)[ONLINE]
    access = phone.children.order_by("pk").first()
    Resource.objects.filter(pk=access.pk).update(customer=customer_a)
    pages = (
        (owner, f"/staff/inventory/{phone.pk}/"),
        (owner, f"/staff/inventory/{access.pk}/"),
        (alice, f"/portal/proxies/{access.pk}/"),
    )

    def visit():
        counts = []
        for user, url in pages:
            client.force_login(user)
            with CaptureQueriesContext(connection) as queries:
                text = page(client.get(url))
            assert "data-usage-chart" in text
            assert "Last 24 hours, per hour" in text and "Recent use:" in text
            assert "the data runs out" not in text  # iProxy has no data limit
            counts.append(len(queries))
        return counts

    before = visit()
    samples = UsageSample.objects.filter(resource__account=account).count()
    clock(5 * HOUR)
    sync_account(account=account)
    assert UsageSample.objects.filter(resource__account=account).count() > samples
    assert visit() == before


def test_the_staff_statistics_page_of_a_phone_shows_its_stored_history(client, sandbox, account, owner):
    sync_account(account=account)
    phone = by_label(account, IPROXY_CONNECTION)[ONLINE]

    client.force_login(owner)
    text = page(client.get(reverse("inventory:iproxy-statistics", args=[phone.pk])))

    total = usage_history(phone)["charts"][0]["series"]["total"]
    assert "data-usage-chart" in text and f"Last 24 hours, per hour: {total}" in text
    assert 'id="traffic-by-day"' in text  # beside the live figures


def test_the_customer_api_gives_an_accesss_traffic_history(sandbox, account, alice, customer_a):
    sync_account(account=account)
    access = by_label(account, IPROXY_CONNECTION)[ONLINE].children.order_by("pk").first()
    Resource.objects.filter(pk=access.pk).update(customer=customer_a)

    body = KeyClient(key_for(alice, can_write=False)).get(f"/api/proxies/{access.pk}/usage/history").json()

    assert [sample["bytes_used"] for sample in body["samples"]] == [used for _, used in history(access)]
    assert body["bytes_per_day"] > 0 and body["runs_out_at"] is None

"""Usage history: samples written by the sync, folded hourly then daily and pruned, charts and the projection."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.db.models import Count
from django.utils import timezone

from inventory import tasks
from inventory.alerts import alerts_check
from inventory.models import Alert, UsageSample
from inventory.sync import sync_account
from inventory.usage import projected_exhaustion, usage_downsample, usage_history
from tests.factories import ResourceFactory
from tests.inventory.test_sync import unique_account

GB = 10**9
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

Resolution = UsageSample.Resolution


@pytest.fixture
def now():
    # Half past noon UTC: the hour and day buckets below are easy to reason about.
    return timezone.now().astimezone(dt.UTC).replace(hour=12, minute=30, second=0, microsecond=0)


def sample(resource, at, used, resolution=Resolution.RAW, limit=None):
    return UsageSample.objects.create(
        resource=resource, at=at, bytes_used=used, bytes_limit=limit or resource.data_limit_bytes, resolution=resolution
    )


def history(resource):
    return list(resource.usage_samples.order_by("at").values_list("at", "bytes_used", "resolution"))


# Written by the sync ---------------------------------------------------------------------------------------


def test_a_sync_samples_every_resource_with_a_usage_counter(sandbox, db):
    account = unique_account("unknownproxies")
    run = sync_account(account=account)

    samples = UsageSample.objects.filter(resource__account=account)
    assert samples.count() == run.created == 9  # residential and ISP tokens all count bytes
    token = account.resources.get(upstream_id="resiActive01")
    [(at, used, resolution)] = history(token)
    assert (used, resolution) == (11_574_848_653, Resolution.RAW)
    assert at == token.last_synced_at


def test_a_resync_samples_only_the_counters_that_moved(sandbox, db):
    account = unique_account("unknownproxies")
    sync_account(account=account)
    sandbox.control("usage", {"token": "resiActive01", "bytes": 2 * GB})

    sync_account(account=account)
    sync_account(account=account)

    token = account.resources.get(upstream_id="resiActive01")
    assert [used for _, used, _ in history(token)] == [11_574_848_653, 13_574_848_653]
    assert UsageSample.objects.filter(resource__account=account).count() == 10


def test_a_sync_writes_no_sample_for_resources_without_a_counter(sandbox, db):
    account = unique_account("shop")
    sync_account(account=account)
    assert not UsageSample.objects.filter(resource__account=account).exists()


# Folding and pruning ---------------------------------------------------------------------------------------


def test_it_keeps_the_last_sample_of_each_past_hour(db, now):
    token = ResourceFactory()
    other = ResourceFactory()
    hour_ago = now.replace(minute=0) - HOUR  # 11:00
    for minutes, used in ((5, 1), (25, 2), (55, 3)):
        sample(token, hour_ago + dt.timedelta(minutes=minutes), used * GB)
    sample(token, hour_ago - dt.timedelta(minutes=10), 0)  # 10:50, alone in its hour
    sample(token, now - dt.timedelta(minutes=5), 4 * GB)  # this hour: left raw
    sample(other, hour_ago + dt.timedelta(minutes=30), 7 * GB)

    removed = usage_downsample(now=now)

    assert removed == {"hourly": 2, "daily": 0, "pruned": 0}
    assert history(token) == [
        (hour_ago - dt.timedelta(minutes=10), 0, Resolution.HOUR),
        (hour_ago + dt.timedelta(minutes=55), 3 * GB, Resolution.HOUR),
        (now - dt.timedelta(minutes=5), 4 * GB, Resolution.RAW),
    ]
    assert history(other) == [(hour_ago + dt.timedelta(minutes=30), 7 * GB, Resolution.HOUR)]
    # Running again changes nothing.
    assert usage_downsample(now=now) == {"hourly": 0, "daily": 0, "pruned": 0}


def test_after_a_week_it_keeps_the_last_sample_of_each_day(db, now):
    token = ResourceFactory()
    old_day = (now - dt.timedelta(days=9)).replace(hour=0, minute=0)
    for hour in (1, 8, 23):
        sample(token, old_day + dt.timedelta(hours=hour), hour * GB, Resolution.HOUR)
    recent = now - dt.timedelta(days=3)
    sample(token, recent, 30 * GB, Resolution.HOUR)

    usage_downsample(now=now)

    assert history(token) == [
        (old_day + dt.timedelta(hours=23), 23 * GB, Resolution.DAY),
        (recent, 30 * GB, Resolution.HOUR),
    ]


def test_after_a_year_samples_are_deleted(db, now):
    token = ResourceFactory()
    sample(token, now - dt.timedelta(days=366), 1, Resolution.DAY)
    sample(token, now - dt.timedelta(days=300), 2, Resolution.DAY)

    assert usage_downsample(now=now)["pruned"] == 1
    assert [used for _, used, _ in history(token)] == [2]


def test_storage_stays_bounded_for_a_year_of_syncs_every_ten_minutes(db, now):
    token = ResourceFactory()
    day = now - dt.timedelta(days=400)
    used = 0
    # A sync every 10 minutes for 400 days, the counter moving at each; folded once a day here (beat: hourly).
    while day < now:
        moments = [day + dt.timedelta(minutes=10 * i) for i in range(6 * 24)]
        UsageSample.objects.bulk_create(
            UsageSample(resource=token, at=moment, bytes_used=used + i)
            for i, moment in enumerate(moments)
            if moment <= now
        )
        used += len(moments)
        day += DAY
        usage_downsample(now=min(day, now))

    by_resolution = dict(
        token.usage_samples.values_list("resolution").annotate(count=Count("pk")).values_list("resolution", "count")
    )
    assert by_resolution[Resolution.RAW] <= 6  # this hour's
    assert by_resolution[Resolution.HOUR] <= 8 * 24  # the last seven days and today
    assert by_resolution[Resolution.DAY] <= 366  # a year of days
    assert token.usage_samples.filter(at__lt=now - dt.timedelta(days=365)).count() == 0


def test_the_beat_task_runs_the_downsampling(db, settings):
    assert settings.CELERY_BEAT_SCHEDULE["downsample-usage"]["task"] == "inventory.downsample_usage"
    token = ResourceFactory()
    sample(token, timezone.now() - dt.timedelta(days=400), 1, Resolution.DAY)
    assert tasks.downsample_usage()["pruned"] == 1


# The projection ----------------------------------------------------------------------------------------------


def test_it_projects_when_the_data_runs_out_at_the_recent_rate(db, now):
    # 100 GB limit, 10 GB a day for the last three days, 40 GB used: 6 days left.
    token = ResourceFactory(data_used_bytes=40 * GB, data_limit_bytes=100 * GB)
    for days_ago, used in ((3, 10), (2, 20), (1, 30)):
        sample(token, now - days_ago * DAY, used * GB)
    sample(token, now, 40 * GB)

    assert projected_exhaustion(token, now=now) == now + 6 * DAY


@pytest.mark.parametrize(
    ("samples", "fields"),
    [
        ([], {}),  # no history
        ([(0.5, 39)], {}),  # less than an hour of history
        ([(2, 40)], {}),  # no growth
        ([(2, 50)], {}),  # the counter went down (reset)
        ([(2, 10)], {"data_limit_bytes": None}),  # no limit to run out of
    ],
)
def test_it_does_not_project_without_a_rate_or_a_limit(db, now, samples, fields):
    token = ResourceFactory(**{"data_used_bytes": 40 * GB, "data_limit_bytes": 100 * GB, **fields})
    for hours_ago, used in samples:
        sample(token, now - hours_ago * HOUR, used * GB)
    assert projected_exhaustion(token, now=now) is None


def test_a_resource_at_its_limit_has_run_out(db, now):
    token = ResourceFactory(data_used_bytes=100 * GB, data_limit_bytes=100 * GB)
    assert projected_exhaustion(token, now=now) == now


def test_the_rate_only_looks_back_a_week(db, now):
    token = ResourceFactory(data_used_bytes=50 * GB, data_limit_bytes=100 * GB)
    sample(token, now - 30 * DAY, 0)  # a month ago: ignored
    sample(token, now - 5 * DAY, 45 * GB)  # 1 GB a day since: 50 days left
    assert projected_exhaustion(token, now=now) == now + 50 * DAY


# Alerts use it ----------------------------------------------------------------------------------------------


@pytest.fixture
def horizons(settings):
    settings.ALERT_STAFF_EMAILS = ["staff@example.com"]
    settings.ALERT_EXPIRY_HORIZONS_DAYS = [1, 3, 7]
    settings.ALERT_USAGE_THRESHOLDS_PERCENT = [80, 95]


def test_it_warns_when_the_data_runs_out_within_a_horizon(db, now, horizons, customer_a, mailoutbox):
    # 40 of 100 GB used (below the 80% threshold), but 20 GB a day: runs out in three days.
    token = ResourceFactory(data_used_bytes=40 * GB, data_limit_bytes=100 * GB, customer=customer_a, expires_at=None)
    sample(token, now - 2 * DAY, 0)

    [alert] = alerts_check(now=now)

    assert alert.kind == Alert.Kind.USAGE and alert.threshold == "runs out 3d"
    assert "at this rate (20.00 GB a day) the data runs out on" in alert.message
    assert alert.customer == customer_a
    assert mailoutbox[0].to == [customer_a.contact_email]
    assert alerts_check(now=now + HOUR) == []  # once per cycle
    # An hour without use pushes the date past three days: no second warning at the farther horizon.
    assert alerts_check(now=now + 3 * HOUR) == []


def test_it_does_not_warn_when_the_data_lasts_beyond_the_horizons(db, now, horizons):
    token = ResourceFactory(data_used_bytes=40 * GB, data_limit_bytes=100 * GB, expires_at=None)
    sample(token, now - 2 * DAY, 38 * GB)  # 1 GB a day: two months left
    assert alerts_check(now=now) == []


def test_a_top_up_starts_a_new_projection_cycle(db, now, horizons):
    token = ResourceFactory(data_used_bytes=40 * GB, data_limit_bytes=100 * GB, expires_at=None)
    sample(token, now - 2 * DAY, 0)
    assert [a.threshold for a in alerts_check(now=now)] == ["runs out 3d"]

    token.data_limit_bytes = 110 * GB
    token.save()
    assert [a.cycle for a in alerts_check(now=now)] == [str(110 * GB)]


# Charts --------------------------------------------------------------------------------------------------------


def test_the_history_has_bars_per_hour_and_per_day(db, now):
    token = ResourceFactory(data_used_bytes=13 * GB, data_limit_bytes=100 * GB)
    sample(token, now - 3 * DAY, 1 * GB, Resolution.HOUR)
    sample(token, now - 2 * HOUR, 10 * GB)
    sample(token, now - HOUR, 12 * GB)
    sample(token, now - dt.timedelta(minutes=10), 13 * GB)

    chart = usage_history(token, now=now)

    hourly, daily = (c["series"] for c in chart["charts"])
    assert len(hourly["bars"]) == 24 and len(daily["bars"]) == 30
    heights = [bar.height for bar in hourly["bars"]]
    # 10:30 -> 10 GB (9 GB more than the last reading, in the 10:00 hour), 11:30 -> 12, 12:20 -> 13.
    assert heights[-3:] == [120.0, pytest.approx(120 * 2 / 9, abs=0.01), pytest.approx(120 / 9, abs=0.01)]
    assert hourly["total"] == "12.00 GB"
    assert daily["total"] == "12.00 GB"
    assert chart["runs_out_at"] is not None


def test_resources_without_a_usage_counter_get_no_chart(db):
    assert usage_history(ResourceFactory(data_used_bytes=None, data_limit_bytes=None)) is None


def test_the_staff_and_portal_detail_pages_show_the_usage_chart(client, owner, alice, customer_a, now):
    token = ResourceFactory(customer=customer_a, data_used_bytes=40 * GB, data_limit_bytes=100 * GB)
    sample(token, timezone.now() - 2 * DAY, 20 * GB)
    sample(token, timezone.now() - HOUR, 40 * GB)

    for user, url in ((owner, f"/staff/inventory/{token.pk}/"), (alice, f"/portal/proxies/{token.pk}/")):
        client.force_login(user)
        page = html.unescape(client.get(url).content.decode())
        assert "data-usage-chart" in page
        assert "Last 24 hours, per hour" in page and "Last 30 days, per day" in page
        assert "the data runs out on" in page
        assert page.count("<rect ") >= 54

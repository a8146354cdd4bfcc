"""sync_account mirrors each provider's demo inventory from the sandbox, keeps what is ours, and fails safely."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.iproxy.kinds import IPROXY_ACCESS, IPROXY_CONNECTION
from integrations.proxyshop import client as proxyshop
from integrations.proxyshop.kinds import SHOP_SUBSCRIPTION
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN
from inventory.models import Resource, ResourceStatus, SyncRun
from inventory.sync import lock_key, sync_account
from ops.models import AuditEvent
from providers.http import errors
from providers.models import ProviderAccount
from tests.factories import ProviderAccountFactory
from tests.support.queries import resource_writes

GB = 10**9  # the Unknown Proxies documents count decimal gigabytes
HOUR = 3600
DAY = 24 * HOUR


def unique_account(kind: str, **fields) -> ProviderAccount:
    """An account whose id no other test uses: the sync lock lives in a cache that outlives the test database."""
    return ProviderAccountFactory(id=secrets.randbelow(2**31 - 10**6) + 10**6, kind=kind, **fields)


@pytest.fixture
def up_account(db):
    return unique_account("unknownproxies")


@pytest.fixture
def shop_account(db):
    return unique_account("shop")


@pytest.fixture
def iproxy_account(db):
    return unique_account("iproxy")


def mirrored(account: ProviderAccount, kind: str | None = None) -> dict[str, Resource]:
    resources = Resource.objects.filter(account=account)
    if kind:
        resources = resources.filter(kind=kind)
    return {resource.upstream_id: resource for resource in resources}


def by_label(account: ProviderAccount, kind: str) -> dict[str, Resource]:
    return {resource.label: resource for resource in Resource.objects.filter(account=account, kind=kind)}


def close_to(moment: dt.datetime | None, expected: dt.datetime, seconds: float = 120) -> bool:
    return moment is not None and abs((moment - expected).total_seconds()) < seconds


# Unknown Proxies ---------------------------------------------------------------------------------


def test_it_mirrors_residential_tokens(sandbox, up_account):
    run = sync_account(account=up_account)

    assert run.outcome == SyncRun.Outcome.OK
    tokens = mirrored(up_account, RESI_TOKEN)
    assert set(tokens) == {"resiActive01", "resiPools001", "resiAlmost01", "resiExpTime1", "resiExpData1"}
    active = tokens["resiActive01"]
    assert active.label == "demoAct1"
    assert active.status == ResourceStatus.ACTIVE
    assert active.data_used_bytes == 11_574_848_653
    assert active.data_limit_bytes == 100 * GB
    # Created ten days ago for 720 hours: twenty days left.
    assert close_to(active.expires_at, dt.datetime.now(dt.UTC) + dt.timedelta(days=20))
    assert active.upstream["token"] == "resiActive01"
    assert active.upstream["durationHours"] == 720
    assert active.customer is None
    assert active.last_synced_at is not None
    assert active.vanished_at is None
    assert tokens["resiExpTime1"].status == ResourceStatus.EXPIRED
    # Out of data, with no time limit: expired, and no expiry date.
    assert tokens["resiExpData1"].status == ResourceStatus.EXPIRED
    assert tokens["resiExpData1"].expires_at is None
    assert tokens["resiPools001"].status == ResourceStatus.ACTIVE


def test_it_mirrors_isp_tokens(sandbox, up_account):
    sync_account(account=up_account)

    tokens = mirrored(up_account, ISP_TOKEN)
    assert set(tokens) == {"ispActive001", "ispIpAuth001", "ispProcess01", "ispExpTime01"}
    assert tokens["ispActive001"].label == "US TICK ×2"  # noqa: RUF001
    assert tokens["ispActive001"].status == ResourceStatus.ACTIVE
    assert tokens["ispActive001"].data_limit_bytes is None
    assert tokens["ispActive001"].data_used_bytes == tokens["ispActive001"].upstream["dataUsage"]
    assert tokens["ispProcess01"].label == "US TICK ×3"  # noqa: RUF001
    assert tokens["ispProcess01"].status == ResourceStatus.PROCESSING
    assert tokens["ispExpTime01"].status == ResourceStatus.EXPIRED
    assert tokens["ispIpAuth001"].label == "GB ISP ×1"  # noqa: RUF001
    assert tokens["ispIpAuth001"].expires_at is None


def test_it_counts_what_it_saw_and_created(sandbox, up_account):
    run = sync_account(account=up_account)

    run.refresh_from_db()
    assert (run.seen, run.created, run.updated, run.vanished) == (9, 9, 0, 0)
    assert run.finished_at is not None
    assert run.error == ""


# Proxy shop --------------------------------------------------------------------------------------


def test_it_mirrors_shop_subscriptions(sandbox, shop_account):
    run = sync_account(account=shop_account)

    assert run.outcome == SyncRun.Outcome.OK
    subscriptions = mirrored(shop_account, SHOP_SUBSCRIPTION)
    assert set(subscriptions) == {"subnlrotating", "subdestatic", "subnlexpiring", "subnlexpired"}
    rotating = subscriptions["subnlrotating"]
    assert rotating.status == ResourceStatus.ACTIVE
    assert rotating.label.endswith(" - NL - Private")
    assert rotating.label == rotating.upstream["label"]
    assert close_to(rotating.expires_at, dt.datetime.now(dt.UTC) + dt.timedelta(days=20))
    assert rotating.data_used_bytes is None
    assert rotating.data_limit_bytes is None
    expired = subscriptions["subnlexpired"]
    assert expired.status == ResourceStatus.EXPIRED
    assert close_to(expired.expires_at, dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    assert subscriptions["subnlexpiring"].status == ResourceStatus.ACTIVE


# iProxy ------------------------------------------------------------------------------------------


def test_it_mirrors_iproxy_connections(sandbox, iproxy_account):
    run = sync_account(account=iproxy_account)

    assert run.outcome == SyncRun.Outcome.OK
    connections = by_label(iproxy_account, IPROXY_CONNECTION)
    assert set(connections) == {
        "online with plan",
        "offline with plan",
        "flapping, plan expired",
        "new phone, no data",
    }
    online = connections["online with plan"]
    assert online.status == ResourceStatus.ACTIVE
    # A 30-day plan started ten days ago.
    assert close_to(online.expires_at, dt.datetime.now(dt.UTC) + dt.timedelta(days=20))
    assert online.upstream["basic_info"]["name"] == "online with plan"
    assert connections["offline with plan"].status == ResourceStatus.OFFLINE
    assert connections["flapping, plan expired"].status == ResourceStatus.EXPIRED
    assert connections["flapping, plan expired"].expires_at is None
    assert connections["new phone, no data"].status == ResourceStatus.EXPIRED


def test_it_mirrors_iproxy_proxy_accesses_under_their_connection(sandbox, iproxy_account):
    sync_account(account=iproxy_account)

    connections = by_label(iproxy_account, IPROXY_CONNECTION)
    accesses = {
        access.upstream["description"]: access
        for access in Resource.objects.filter(account=iproxy_account, kind=IPROXY_ACCESS)
    }
    assert set(accesses) == {"main http proxy", "office socks5", "backup http proxy", "flaky socks5"}
    main = accesses["main http proxy"]
    assert main.parent == connections["online with plan"]
    assert main.label == f"x1.pl-waw.sandbox.test:{main.upstream['port']}"
    assert main.status == ResourceStatus.ACTIVE
    assert main.expires_at is None
    backup = accesses["backup http proxy"]
    assert backup.parent == connections["offline with plan"]
    assert backup.status == ResourceStatus.OFFLINE
    assert close_to(backup.expires_at, dt.datetime.now(dt.UTC) + dt.timedelta(days=20))
    assert accesses["flaky socks5"].status == ResourceStatus.EXPIRED


# Second syncs, assignment, vanishing -------------------------------------------------------------


def test_an_unchanged_second_sync_writes_nothing_and_keeps_every_row(sandbox, iproxy_account):
    sync_account(account=iproxy_account)
    before = {resource.upstream_id: resource for resource in Resource.objects.filter(account=iproxy_account)}

    with CaptureQueriesContext(connection) as queries:
        run = sync_account(account=iproxy_account)

    run.refresh_from_db()
    assert (run.seen, run.created, run.updated, run.vanished, run.unchanged) == (8, 0, 0, 0, 8)
    assert resource_writes(queries) == []
    after = {resource.upstream_id: resource for resource in Resource.objects.filter(account=iproxy_account)}
    assert {key: r.pk for key, r in after.items()} == {key: r.pk for key, r in before.items()}
    for key, resource in after.items():
        assert resource.first_seen_at == before[key].first_seen_at
        assert resource.last_synced_at == before[key].last_synced_at
        assert resource.parent_id == before[key].parent_id
        # Seen by the later sync even though it was not rewritten.
        assert resource.last_seen_at >= run.started_at > before[key].last_synced_at


def test_a_resync_writes_only_the_row_that_changed(sandbox, up_account):
    sync_account(account=up_account)
    sandbox.control("usage", {"token": "resiActive01", "bytes": GB})

    with CaptureQueriesContext(connection) as queries:
        run = sync_account(account=up_account)

    assert (run.seen, run.created, run.updated, run.vanished, run.unchanged) == (9, 0, 1, 0, 8)
    assert len(resource_writes(queries)) == 1
    assert mirrored(up_account)["resiActive01"].data_used_bytes == 11_574_848_653 + GB


def test_an_action_write_makes_the_next_sync_rewrite_the_row(sandbox, up_account):
    sync_account(account=up_account)
    # A write outside a sync (an action's answer) cannot vouch for the fingerprint: the sync checks it again.
    Resource.objects.filter(account=up_account, upstream_id="resiActive01").update(fingerprint="", label="stale")

    run = sync_account(account=up_account)

    assert (run.updated, run.unchanged) == (1, 8)
    assert mirrored(up_account)["resiActive01"].label == "demoAct1"


def test_customer_assignment_survives_a_sync(sandbox, up_account, customer_a):
    sync_account(account=up_account)
    Resource.objects.filter(account=up_account, upstream_id="resiActive01").update(customer=customer_a)

    sync_account(account=up_account)

    assert Resource.objects.get(account=up_account, upstream_id="resiActive01").customer == customer_a


def test_it_marks_vanished_subscriptions_and_brings_them_back(sandbox, shop_account):
    shop = proxyshop.Client(sandbox.base_url("shop"), "rk_sandbox")
    bought = shop.purchase("nlams7shared").subscription_ids[0]
    first = sync_account(account=shop_account)
    assert first.created == 5

    sandbox.control("reset")
    run = sync_account(account=shop_account)

    assert run.vanished == 1
    gone = Resource.objects.get(account=shop_account, upstream_id=bought)
    assert gone.status == ResourceStatus.VANISHED
    assert gone.vanished_at is not None
    assert Resource.objects.filter(account=shop_account, status=ResourceStatus.VANISHED).count() == 1

    # Already vanished: a further sync does not count it again.
    assert sync_account(account=shop_account).vanished == 0

    # The sandbox's ids are deterministic: the same purchase after a reset brings the same id back.
    assert shop.purchase("nlams7shared").subscription_ids[0] == bought
    back_run = sync_account(account=shop_account)

    back = Resource.objects.get(pk=gone.pk)
    assert back.status == ResourceStatus.ACTIVE
    assert back.vanished_at is None
    assert back.first_seen_at == gone.first_seen_at
    assert (back_run.created, back_run.vanished) == (0, 0)


def test_it_marks_vanished_iproxy_resources(sandbox, iproxy_account):
    sync_account(account=iproxy_account)
    # Another seed builds connections with other ids: every one of the first seed's is gone.
    sandbox.control("reset", {"seed": 2})

    run = sync_account(account=iproxy_account)

    assert run.vanished == 8
    assert run.created == 8
    assert Resource.objects.filter(account=iproxy_account, status=ResourceStatus.VANISHED).count() == 8


def test_it_only_vanishes_resources_of_its_own_account(sandbox, up_account):
    other = unique_account("unknownproxies")
    stray = Resource.objects.create(account=up_account, kind=RESI_TOKEN, upstream_id="notUpstream1")

    sync_account(account=other)
    stray.refresh_from_db()
    assert stray.vanished_at is None

    sync_account(account=up_account)
    stray.refresh_from_db()
    assert stray.status == ResourceStatus.VANISHED


# Status follows the sandbox -----------------------------------------------------------------------


def test_status_follows_the_sandbox_clock(sandbox, up_account):
    sync_account(account=up_account)
    assert mirrored(up_account)["resiAlmost01"].status == ResourceStatus.ACTIVE
    assert mirrored(up_account)["ispProcess01"].status == ResourceStatus.PROCESSING

    sandbox.control("clock", {"advance_seconds": 2 * HOUR})
    sync_account(account=up_account)

    tokens = mirrored(up_account)
    # 48 hours, created 47 hours ago: expired an hour ago by the sandbox's clock.
    assert tokens["resiAlmost01"].status == ResourceStatus.EXPIRED
    # Processing for the first ten minutes only.
    assert tokens["ispProcess01"].status == ResourceStatus.ACTIVE


def test_shop_status_follows_the_sandbox_clock(sandbox, shop_account):
    sandbox.control("clock", {"advance_seconds": 3 * HOUR})

    sync_account(account=shop_account)

    assert mirrored(shop_account)["subnlexpiring"].status == ResourceStatus.EXPIRED
    assert mirrored(shop_account)["subnlrotating"].status == ResourceStatus.ACTIVE


def test_iproxy_status_follows_the_sandbox_clock(sandbox, iproxy_account):
    sync_account(account=iproxy_account)
    # The "offline with plan" connection's 30-day plan started 25 days ago.
    sandbox.control("clock", {"advance_seconds": 6 * DAY})

    sync_account(account=iproxy_account)

    connection = by_label(iproxy_account, IPROXY_CONNECTION)["offline with plan"]
    assert connection.status == ResourceStatus.EXPIRED
    assert connection.expires_at is None
    assert {child.status for child in connection.children.all()} == {ResourceStatus.EXPIRED}


def test_status_follows_usage(sandbox, up_account):
    sync_account(account=up_account)

    sandbox.control("usage", {"token": "resiActive01", "bytes": 100 * GB})
    sync_account(account=up_account)

    token = mirrored(up_account)["resiActive01"]
    assert token.data_used_bytes == 11_574_848_653 + 100 * GB
    assert token.status == ResourceStatus.EXPIRED
    assert token.usage_fraction == 1.0


def test_status_follows_the_connection_status(sandbox, iproxy_account):
    sync_account(account=iproxy_account)
    online = by_label(iproxy_account, IPROXY_CONNECTION)["online with plan"]

    sandbox.control("connection-status", {"connection_id": online.upstream_id, "online_status": "nodata"})
    sync_account(account=iproxy_account)

    online.refresh_from_db()
    assert online.status == ResourceStatus.OFFLINE
    assert {child.status for child in online.children.all()} == {ResourceStatus.OFFLINE}


# The lock ----------------------------------------------------------------------------------------


def test_a_held_lock_gives_a_skipped_run_and_no_upstream_call(sandbox, up_account):
    key = lock_key(up_account)
    assert cache.add(key, "another-sync", timeout=60)
    try:
        run = sync_account(account=up_account)

        assert run.outcome == SyncRun.Outcome.SKIPPED
        assert run.finished_at is not None
        assert sandbox.calls() == []
        assert not Resource.objects.filter(account=up_account).exists()
        # The skipped run leaves the other sync's lock alone.
        assert cache.get(key) == "another-sync"
    finally:
        cache.delete(key)


def test_it_releases_the_lock_after_a_sync(sandbox, up_account):
    sync_account(account=up_account)

    assert cache.get(lock_key(up_account)) is None
    assert sync_account(account=up_account).outcome == SyncRun.Outcome.OK


def test_it_releases_the_lock_after_a_failure(sandbox, up_account):
    sandbox.control("faults", {"rules": [{"provider": "unknownproxies", "kind": "rate_limit", "retry_after": 120}]})
    with pytest.raises(errors.RateLimitedError):
        sync_account(account=up_account)

    assert cache.get(lock_key(up_account)) is None


# Failures ----------------------------------------------------------------------------------------


def test_wrong_credentials_fail_the_run_and_leave_the_mirror_untouched(sandbox, up_account):
    sync_account(account=up_account)
    before = list(Resource.objects.filter(account=up_account).values())
    up_account.secret = "wrong-password"
    up_account.save()

    run = sync_account(account=up_account)

    run.refresh_from_db()
    up_account.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.FAILED
    assert run.finished_at is not None
    assert "401" in run.error
    assert "list_resi_tokens" in run.error
    assert "wrong-password" not in run.error
    assert up_account.last_error == run.error
    assert list(Resource.objects.filter(account=up_account).values()) == before


def test_a_good_sync_clears_the_last_error(sandbox, up_account):
    ProviderAccount.objects.filter(pk=up_account.pk).update(last_error="earlier trouble")

    sync_account(account=up_account)

    up_account.refresh_from_db()
    assert up_account.last_error == ""


def test_a_rate_limit_is_recorded_and_raised_for_the_task(sandbox, up_account):
    sandbox.control("faults", {"rules": [{"provider": "unknownproxies", "kind": "rate_limit", "retry_after": 120}]})

    with pytest.raises(errors.RateLimitedError) as raised:
        sync_account(account=up_account)

    assert raised.value.retry_after == 120
    run = SyncRun.objects.get(account=up_account)
    assert run.outcome == SyncRun.Outcome.FAILED
    assert "429" in run.error


def test_other_provider_errors_are_recorded_not_raised(sandbox, up_account):
    sandbox.control(
        "faults",
        {"rules": [{"provider": "unknownproxies", "match": "GET /isp/tokens", "kind": "status", "status": 403}]},
    )

    run = sync_account(account=up_account)

    assert run.outcome == SyncRun.Outcome.FAILED
    assert "403" in run.error
    # The residential list was read, but nothing is written until every list has been read.
    assert not Resource.objects.filter(account=up_account).exists()


def test_a_failure_halfway_through_the_reads_writes_nothing(sandbox, iproxy_account):
    sandbox.control(
        "faults", {"rules": [{"provider": "iproxy", "match": "GET /proxy-access", "kind": "status", "status": 404}]}
    )

    run = sync_account(account=iproxy_account)

    assert run.outcome == SyncRun.Outcome.FAILED
    assert len(sandbox.calls("GET", "/connections")) == 1
    assert not Resource.objects.filter(account=iproxy_account).exists()


def test_an_unreadable_secret_fails_the_run_without_calling_upstream(sandbox, up_account):
    ProviderAccount.objects.filter(pk=up_account.pk).update(secret_encrypted="gAAAAAnot-a-fernet-token")
    up_account.refresh_from_db()

    run = sync_account(account=up_account)

    assert run.outcome == SyncRun.Outcome.FAILED
    assert "cannot be decrypted" in run.error
    assert sandbox.calls() == []
    up_account.refresh_from_db()
    assert up_account.last_error == run.error


# Audit -------------------------------------------------------------------------------------------


def test_it_audits_a_sync_that_created_or_vanished_something(sandbox, shop_account):
    run = sync_account(account=shop_account)
    sync_account(account=shop_account)

    events = AuditEvent.objects.filter(action="inventory.sync")
    assert events.count() == 1
    event = events.get()
    assert event.target_id == str(shop_account.pk)
    assert event.data == {"run": run.pk, "seen": 4, "created": 4, "updated": 0, "vanished": 0}

    sandbox.control("clock", {"advance_seconds": 3 * HOUR})
    sync_account(account=shop_account)
    # Status changes alone are not audited: they are the upstream's news, not a change in what we hold.
    assert AuditEvent.objects.filter(action="inventory.sync").count() == 1


# Rows the mirror cannot hold (issue 12) ----------------------------------------------------------


def test_an_out_of_range_upstream_value_is_reported_and_every_other_row_written(sandbox, up_account):
    sync_account(account=up_account)
    # Upstream now says this token used 10^30 bytes: no bigint holds that.
    sandbox.control("usage", {"token": "resiActive01", "bytes": 10**30})
    sandbox.control("usage", {"token": "resiPools001", "bytes": GB})

    run = sync_account(account=up_account)

    run.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.OK and run.error == ""
    assert run.problem_count == 1
    [problem] = run.problems
    assert problem["kind"] == RESI_TOKEN and problem["upstream_id"] == "resiActive01"
    assert "data usage" in problem["reason"] and "stored as unknown" in problem["reason"]
    tokens = mirrored(up_account)
    bad = tokens["resiActive01"]
    assert bad.data_used_bytes is None
    assert bad.upstream["dataUsage"] == 11_574_848_653 + 10**30  # the upstream's word, kept as it came
    assert bad.status == ResourceStatus.EXPIRED
    assert tokens["resiPools001"].data_used_bytes == tokens["resiPools001"].upstream["dataUsage"]
    up_account.refresh_from_db()
    assert "resiActive01" in up_account.last_error and f"sync run {run.pk}" in up_account.last_error

    # Later syncs keep working and keep reporting the row while the upstream says so.
    again = sync_account(account=up_account)
    assert again.outcome == SyncRun.Outcome.OK and again.problem_count == 1 and again.unchanged == 9


def test_a_row_whose_id_does_not_fit_is_refused_and_the_rest_written(db, up_account):
    from inventory.mirror import Row, write_account_rows
    from inventory.models import UsageSample

    now = dt.datetime.now(dt.UTC)
    good = Row(kind=RESI_TOKEN, upstream_id="fits", label="ok", status="active", expires_at=None, upstream={})
    long = Row(kind=RESI_TOKEN, upstream_id="x" * 201, label="long", status="active", expires_at=None, upstream={})
    huge = Row(
        kind=RESI_TOKEN,
        upstream_id="huge",
        label="huge",
        status="active",
        expires_at=None,
        upstream={},
        data_used_bytes=5,
        data_limit_bytes=-(10**30),
    )

    counts = write_account_rows(up_account, [RESI_TOKEN, ISP_TOKEN], [good, long, huge], now)

    assert (counts.seen, counts.created, counts.problem_count) == (3, 2, 2)
    assert [p["upstream_id"] for p in counts.problems] == ["x" * 200, "huge"]
    assert "not mirrored" in counts.problems[0]["reason"]
    assert set(mirrored(up_account)) == {"fits", "huge"}
    assert mirrored(up_account)["huge"].data_limit_bytes is None
    assert list(UsageSample.objects.values_list("bytes_used", "bytes_limit")) == [(5, None)]


def test_a_run_keeps_the_first_hundred_problems_and_counts_them_all(db, up_account):
    from inventory.mirror import PROBLEMS_KEPT, Row, write_account_rows

    rows = [
        Row(
            kind=RESI_TOKEN,
            upstream_id=f"t{i}",
            label="",
            status="active",
            expires_at=None,
            upstream={},
            data_used_bytes=10**20,
        )
        for i in range(PROBLEMS_KEPT + 5)
    ]
    counts = write_account_rows(up_account, [RESI_TOKEN], rows, dt.datetime.now(dt.UTC))

    assert counts.problem_count == PROBLEMS_KEPT + 5
    assert len(counts.problems) == PROBLEMS_KEPT
    assert Resource.objects.filter(account=up_account).count() == PROBLEMS_KEPT + 5


def test_it_writes_in_chunks_each_in_its_own_transaction(sandbox, up_account, monkeypatch):
    from inventory import mirror

    monkeypatch.setattr(mirror, "BATCH_SIZE", 2)
    with CaptureQueriesContext(connection) as queries:
        run = sync_account(account=up_account)

    assert run.created == 9
    # Five residential tokens in chunks of 2, 2 and 1, four ISP tokens in 2 and 2: one transaction each.
    assert len(resource_writes(queries)) == 5
    opened = [q for q in queries.captured_queries if q["sql"].startswith(("SAVEPOINT", "BEGIN"))]
    assert len(opened) >= 5

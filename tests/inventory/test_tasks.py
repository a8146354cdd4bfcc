"""The sync tasks: fan-out over enabled accounts, and retries that honour Retry-After or back off."""

from __future__ import annotations

import pytest
from celery import states
from celery.signals import task_retry

from config.celery import app
from inventory.models import Resource, SyncRun
from inventory.tasks import MAX_RETRIES, backoff_seconds, sync_account, sync_all_accounts
from providers.http import errors
from tests.inventory.test_sync import unique_account


@pytest.fixture
def retries():
    """Every Retry a task raises, as Celery's own retry handling reports it."""
    seen = []

    def record(sender=None, reason=None, **kwargs):
        seen.append(reason)

    task_retry.connect(record, weak=False)
    yield seen
    task_retry.disconnect(record)


def rate_limit(sandbox, *, times: int, retry_after: int = 120) -> None:
    rule = {"provider": "*", "kind": "rate_limit", "retry_after": retry_after, "times": times}
    sandbox.control("faults", {"rules": [rule]})


def test_it_syncs_an_account(sandbox, db):
    account = unique_account("shop")

    result = sync_account.apply(args=[account.pk])

    assert result.state == states.SUCCESS
    assert result.result == SyncRun.Outcome.OK
    assert Resource.objects.filter(account=account).count() == 4


def test_it_retries_a_rate_limit_with_the_retry_after_countdown(sandbox, db, retries):
    account = unique_account("unknownproxies")
    # Longer than the client's own longest backoff, so the client hands the wait to the task.
    rate_limit(sandbox, times=1, retry_after=120)

    result = sync_account.apply(args=[account.pk])

    assert len(retries) == 1
    assert retries[0].when == 120
    assert isinstance(retries[0].exc, errors.RateLimitedError)
    # apply() runs the retry at once; the second attempt finds the upstream willing.
    assert result.state == states.SUCCESS
    outcomes = list(SyncRun.objects.filter(account=account).order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [SyncRun.Outcome.FAILED, SyncRun.Outcome.OK]


def test_it_gives_up_after_five_retries(sandbox, db, retries):
    account = unique_account("unknownproxies")
    rate_limit(sandbox, times=50)

    result = sync_account.apply(args=[account.pk])

    assert len(retries) == MAX_RETRIES == 5
    assert result.state == states.FAILURE
    assert isinstance(result.result, errors.RateLimitedError)
    assert SyncRun.objects.filter(account=account, outcome=SyncRun.Outcome.FAILED).count() == 6
    account.refresh_from_db()
    assert "429" in account.last_error


def test_it_backs_off_when_the_upstream_is_unavailable(sandbox, db, retries):
    account = unique_account("shop")
    # The client retries a read three times itself; the fourth 503 reaches the task.
    sandbox.control(
        "faults",
        {"rules": [{"provider": "shop", "match": "GET subscriptions", "kind": "status", "status": 503, "times": 4}]},
    )

    result = sync_account.apply(args=[account.pk])

    assert len(retries) == 1
    assert isinstance(retries[0].exc, errors.UnavailableError)
    assert 30 <= retries[0].when <= 37.5
    assert result.state == states.SUCCESS


def test_a_rate_limit_without_retry_after_backs_off(sandbox, db, retries):
    account = unique_account("iproxy")
    # A 429 without Retry-After is retried by the client itself three times; the fourth reaches the task.
    sandbox.control(
        "faults",
        {"rules": [{"provider": "iproxy", "match": "GET /connections", "kind": "status", "status": 429, "times": 4}]},
    )

    result = sync_account.apply(args=[account.pk])

    assert len(retries) == 1
    assert isinstance(retries[0].exc, errors.RateLimitedError)
    assert retries[0].exc.retry_after is None
    assert 30 <= retries[0].when <= 37.5
    assert result.state == states.SUCCESS


def test_other_provider_errors_are_not_retried(sandbox, db, retries):
    account = unique_account("unknownproxies", secret="wrong-password")

    result = sync_account.apply(args=[account.pk])

    assert retries == []
    assert result.state == states.SUCCESS
    assert result.result == SyncRun.Outcome.FAILED


@pytest.mark.parametrize(("retries_so_far", "low", "high"), [(0, 30, 37.5), (1, 60, 75), (3, 240, 300), (9, 900, 1125)])
def test_backoff_doubles_and_is_capped(retries_so_far, low, high):
    for _ in range(20):
        assert low <= backoff_seconds(retries_so_far) <= high


def test_it_skips_missing_and_disabled_accounts(sandbox, db):
    disabled = unique_account("shop", enabled=False)

    assert sync_account.apply(args=[disabled.pk]).result is None
    assert sync_account.apply(args=[disabled.pk + 1]).result is None
    assert not SyncRun.objects.exists()
    assert sandbox.calls() == []


def test_sync_all_accounts_queues_one_task_per_enabled_account(sandbox, db, monkeypatch):
    # Eager: each queued sync_account runs in place, so what it did shows which ones were queued.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    shop = unique_account("shop")
    iproxy = unique_account("iproxy")
    disabled = unique_account("unknownproxies", enabled=False)

    result = sync_all_accounts.apply()

    assert sorted(result.result) == sorted([shop.pk, iproxy.pk])
    assert SyncRun.objects.filter(account=shop, outcome=SyncRun.Outcome.OK).count() == 1
    assert SyncRun.objects.filter(account=iproxy, outcome=SyncRun.Outcome.OK).count() == 1
    assert not SyncRun.objects.filter(account=disabled).exists()

"""Syncing an Unknown Proxies account: the first sync against a naive loop and the bare listing, and a resync.

The sandbox sits behind `responses` with 50 ms of latency on every upstream request (each list is one page),
and the database is a fresh test database (SQLite in memory unless DATABASE_URL says otherwise).

Targets (issue 11), each printed beside its figure and the baseline measured in the same run:
- a first sync of 20,000 tokens at least 20x faster than a naive loop writing each row with
  `update_or_create` (the same upstream reads), and within 3x of the bare time to list them upstream;
- an unchanged resync of 100,000 tokens writes 0 resource rows;
- peak traced Python memory of the 100,000-token syncs is printed (bounded: no model instance per row kept).
"""

from __future__ import annotations

import logging
import os
import time
import tracemalloc
from unittest import mock

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.support import test_database  # noqa: E402
from inventory.mirror import mirror_row  # noqa: E402
from inventory.models import Resource, SyncRun  # noqa: E402
from inventory.sync import lock_key, sync_account  # noqa: E402
from providers import registry  # noqa: E402
from providers.models import ProviderAccount  # noqa: E402
from providers.sandbox import SandboxApp  # noqa: E402
from providers.sandbox.testing import sandbox_behind_responses  # noqa: E402
from tests.support.queries import resource_writes  # noqa: E402

FIRST_TOKENS = 20_000
RESYNC_TOKENS = 100_000
LATENCY_MS = 50
NAIVE_TARGET = 20.0  # at least this many times faster than the naive loop
LISTING_TARGET = 3.0  # at most this many times the bare listing
logging.disable(logging.INFO)


def _account(base_url: str, name: str) -> ProviderAccount:
    account = ProviderAccount(name=name, kind="unknownproxies", base_url=base_url, username="sandbox")
    account.secret = "sandbox-pass"
    account.save()
    cache.delete(lock_key(account))  # a lock left by an interrupted earlier run of this bench
    return account


def _sync(account: ProviderAccount) -> tuple[SyncRun, float]:
    started = time.perf_counter()
    run = sync_account(account=account)
    elapsed = time.perf_counter() - started
    assert run.outcome == SyncRun.Outcome.OK, run.error
    return run, elapsed


def _bare_listing(account: ProviderAccount) -> float:
    """The same upstream reads the sync makes, mapped to rows, nothing written."""
    integration = registry.for_account(account)
    started = time.perf_counter()
    integration.read(integration.client(account), timezone.now())
    return time.perf_counter() - started


def _naive(account: ProviderAccount) -> float:
    """The baseline: the same reads, then one `update_or_create` per row."""
    integration = registry.for_account(account)
    started = time.perf_counter()
    now = timezone.now()
    for row in integration.read(integration.client(account), now):
        mirror_row(account, row, now=now)
    return time.perf_counter() - started


def _line(name: str, figure: str, target: str, met: bool) -> str:
    return f"{name}: {figure} (target {target}) {'MET' if met else 'NOT MET'}"


def main() -> None:
    setup_test_environment(debug=False)  # DEBUG's query log would cost more than the queries
    test_database()
    print(f"database: {connection.vendor}; upstream latency {LATENCY_MS} ms per request")
    results: list[bool] = []

    with sandbox_behind_responses(SandboxApp(seed=1, tokens=FIRST_TOKENS, latency_ms=LATENCY_MS)) as sandbox:
        base_url = sandbox.base_url("unknownproxies")
        bare_s = _bare_listing(_account(base_url, "bench listing"))
        naive_s = _naive(_account(base_url, "bench naive"))
        first, first_s = _sync(_account(base_url, "bench first sync"))
    speedup, over_listing = naive_s / first_s, first_s / bare_s
    print(f"first sync of {first.created:,} rows: {first_s:.2f} s")
    print(f"  baseline naive update_or_create loop: {naive_s:.2f} s; bare listing: {bare_s:.2f} s")
    results.append(speedup >= NAIVE_TARGET)
    print(_line("  speed-up over the naive loop", f"{speedup:.1f}x", f">= {NAIVE_TARGET:.0f}x", results[-1]))
    results.append(over_listing <= LISTING_TARGET)
    print(_line("  time over the bare listing", f"{over_listing:.2f}x", f"<= {LISTING_TARGET:.0f}x", results[-1]))

    # An unchanged upstream: both clocks stand still, so no token expires between the two syncs.
    frozen = timezone.now()
    with (
        sandbox_behind_responses(SandboxApp(seed=1, tokens=RESYNC_TOKENS, latency_ms=LATENCY_MS)) as sandbox,
        mock.patch("django.utils.timezone.now", return_value=frozen),
    ):
        sandbox.app.clock.now = lambda: frozen.timestamp()
        base_url = sandbox.base_url("unknownproxies")
        account = _account(base_url, "bench resync")
        big_first, big_first_s = _sync(account)
        with CaptureQueriesContext(connection) as queries:
            resync, resync_s = _sync(account)
        # Memory in a separate pass, on a second account: tracemalloc slows allocation several-fold.
        memory_account = _account(base_url, "bench memory")
        tracemalloc.start()
        sync_account(account=memory_account)
        _, first_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sync_account(account=memory_account)
        _, resync_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    writes = len(resource_writes(queries))
    rows = Resource.objects.filter(account=account).count()
    print(f"sync of {rows:,} tokens: first {big_first_s:.2f} s, resync {resync_s:.2f} s", end="")
    print(f" ({resync.unchanged:,} unchanged, {resync.updated} updated, {len(queries)} queries)")
    print(f"  baseline: the first sync wrote {big_first.created:,} rows")
    results.append(writes == 0 and resync.updated == 0 and resync.created == 0)
    print(_line("  resource rows written by the unchanged resync", f"{writes} statements", "0", results[-1]))
    print(f"  peak traced memory: first sync {first_peak / 1e6:.0f} MB, resync {resync_peak / 1e6:.0f} MB")
    if not all(results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

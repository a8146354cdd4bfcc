"""Syncing an Unknown Proxies account with 100,000 residential tokens: time, queries and peak memory.

The sandbox sits behind `responses` and the test database is a fresh one (SQLite in memory unless
DATABASE_URL says otherwise). The first sync creates every row, the second rewrites them in place.

Target on our 2-core machines: first sync under 60 s and second under 45 s, so a large reseller's sync
stays well inside the 300 s Celery time limit; queries grow with the number of upsert batches only
(1,000 rows a batch: about 110 on PostgreSQL, SQLite's 999-parameter limit splits each batch further);
under 500 MB peak Python allocations.
"""

from __future__ import annotations

import logging
import os
import time
import tracemalloc

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from inventory.models import Resource, SyncRun  # noqa: E402
from inventory.sync import lock_key, sync_account  # noqa: E402
from providers.models import ProviderAccount  # noqa: E402
from providers.sandbox import SandboxApp  # noqa: E402
from providers.sandbox.testing import sandbox_behind_responses  # noqa: E402

TOKENS = 100_000
logging.disable(logging.INFO)


def _account(base_url: str, name: str) -> ProviderAccount:
    account = ProviderAccount(name=name, kind="unknownproxies", base_url=base_url, username="sandbox")
    account.secret = "sandbox-pass"
    account.save()
    cache.delete(lock_key(account))  # a lock left by an interrupted earlier run of this bench
    return account


def _timed(account: ProviderAccount) -> tuple[SyncRun, float, int]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        run = sync_account(account=account)
        elapsed = time.perf_counter() - started
    assert run.outcome == SyncRun.Outcome.OK, run.error
    return run, elapsed, len(queries)


def main() -> None:
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    with sandbox_behind_responses(SandboxApp(seed=1, tokens=TOKENS)) as sandbox:
        base_url = sandbox.base_url("unknownproxies")
        account = _account(base_url, "bench timing")
        first, first_s, first_q = _timed(account)
        second, second_s, second_q = _timed(account)
        assert first.created >= TOKENS and second.created == 0 and second.updated == first.created

        # Memory in a separate pass, on a second account: tracemalloc slows allocation several-fold.
        memory_account = _account(base_url, "bench memory")
        tracemalloc.start()
        sync_account(account=memory_account)
        _, first_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sync_account(account=memory_account)
        _, second_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    rows = Resource.objects.filter(account=account).count()
    print(f"database: {connection.vendor}; {rows} resources mirrored")
    print(f"first sync: {first.created} created in {first_s:.2f} s, {first_q} queries")
    print(f"second sync: {second.updated} updated in {second_s:.2f} s, {second_q} queries")
    print(f"peak traced memory: first sync {first_peak / 1e6:.0f} MB, second sync {second_peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()

"""Ledger: a customer's balance over 100,000 entries, and a charge under the row lock (test database).

Target: the balance (the last entry's running balance, one index read) under 50 ms, and a charge
(lock, read the balance, insert, audit) under 100 ms, with 100,000 entries on the customer.
On SQLite in memory unless DATABASE_URL says otherwise.
"""

from __future__ import annotations

import logging
import os
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from accounts.models import Customer  # noqa: E402
from bench.support import shop_product, test_database  # noqa: E402
from billing import services  # noqa: E402
from billing.models import LedgerEntry, LedgerEntryKind, Order  # noqa: E402

ENTRIES = 100_000
ROUNDS = 20
logging.disable(logging.WARNING)


def main() -> None:
    setup_test_environment()
    test_database()
    customer = Customer.objects.create(name="Bench customer", contact_email="bench@example.com")
    other = Customer.objects.create(name="Other customer", contact_email="other@example.com")
    product = shop_product(price_cents=100)
    started = time.perf_counter()
    for owner in (customer, other):
        running = 0

        def entry(n, owner=owner):
            nonlocal running
            running += 100 + n % 7
            return LedgerEntry(
                customer=owner,
                kind=LedgerEntryKind.TOP_UP,
                amount_cents=100 + n % 7,
                sequence=n + 1,
                balance_after_cents=running,
            )

        LedgerEntry.objects.bulk_create((entry(n) for n in range(ENTRIES)), batch_size=5000)
    print(f"setup: {2 * ENTRIES:,} entries for two customers in {time.perf_counter() - started:.1f} s")

    expected = sum(100 + n % 7 for n in range(ENTRIES))
    timings = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        balance = services.customer_balance(customer=customer)
        timings.append(time.perf_counter() - t0)
    assert balance == expected, (balance, expected)
    print(
        f"balance over {ENTRIES:,} entries: median {statistics.median(timings) * 1000:.1f} ms, "
        f"max {max(timings) * 1000:.1f} ms over {ROUNDS} reads (target < 50 ms)"
    )

    orders = [
        Order.objects.create(customer=customer, product=product, price_cents=100, idempotency_key=f"bench-{n}")
        for n in range(ROUNDS)
    ]
    timings = []
    for order in orders:
        t0 = time.perf_counter()
        services.balance_charge(
            customer=customer, amount_cents=100, kind=LedgerEntryKind.PURCHASE, order=order, actor=None
        )
        timings.append(time.perf_counter() - t0)
    assert services.customer_balance(customer=customer) == expected - 100 * ROUNDS
    print(
        f"charge under lock ({ENTRIES:,} entries): median {statistics.median(timings) * 1000:.1f} ms, "
        f"max {max(timings) * 1000:.1f} ms over {ROUNDS} charges (target < 100 ms); "
        f"database: {connection.vendor}"
    )


if __name__ == "__main__":
    main()

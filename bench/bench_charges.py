"""Charges on one hot balance: 8 threads charging one customer, on the ledger's running balance.

Target: at least 500 charges per second with 0 overdrafts on PostgreSQL, at the same cost whatever the
length of the customer's history. Baseline, measured in the same run at the long history: the previous
method, which summed every entry of the customer twice per charge (once to check, once for the audit).
On SQLite in memory unless DATABASE_URL says otherwise (`bash scripts/with-test-services.sh make bench`
runs it on PostgreSQL).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.db import connection, connections, transaction  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from accounts.models import Customer  # noqa: E402
from bench.support import shop_product, test_database  # noqa: E402
from billing import services  # noqa: E402
from billing.models import LedgerEntry, LedgerEntryKind, Order, Product  # noqa: E402
from ops import audit  # noqa: E402

THREADS = 8  # on PostgreSQL; SQLite's in-memory test database takes one writer at a time: 1 thread there
SHORT, LONG = 1_000, 100_000
CHARGES = 4_000  # per measured run, shared by the threads
BASELINE_CHARGES = 400
TARGET_PER_SECOND = 500
logging.disable(logging.WARNING)


def _customer(name: str, history: int) -> Customer:
    """A customer with `history` top-ups of 1.00 already on its ledger (running balances included)."""
    customer = Customer.objects.create(name=name, contact_email=f"{name.replace(' ', '-')}@example.com")
    LedgerEntry.objects.bulk_create(
        (
            LedgerEntry(
                customer=customer,
                kind=LedgerEntryKind.TOP_UP,
                amount_cents=100,
                sequence=n,
                balance_after_cents=100 * n,
            )
            for n in range(1, history + 1)
        ),
        batch_size=5000,
    )
    if connection.vendor == "postgresql":
        # As autovacuum would have by then: planning on a table never analyzed since a bulk load of
        # 100,000 rows measures the missing statistics, not the charge.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE billing_ledgerentry")
    return customer


def _orders(customer: Customer, product: Product, count: int, tag: str) -> list[Order]:
    return Order.objects.bulk_create(
        Order(customer=customer, product=product, price_cents=1, idempotency_key=f"{tag}-{n}") for n in range(count)
    )


def _summing_charge(*, customer, amount_cents, kind, order, actor=None, note=""):
    """The previous charge: lock, Sum every entry to check, insert, Sum every entry again for the audit."""
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        balance = LedgerEntry.objects.filter(customer=locked).aggregate(total=Sum("amount_cents"))["total"] or 0
        if balance < amount_cents:
            raise services.InsufficientFunds("short")
        sequence, _ = services._latest(locked)  # the new NOT NULL columns; an index read beside the sums
        entry = LedgerEntry.objects.create(
            customer=locked,
            amount_cents=-amount_cents,
            kind=kind,
            order=order,
            sequence=sequence + 1,
            balance_after_cents=balance - amount_cents,
        )
        after = LedgerEntry.objects.filter(customer=locked).aggregate(total=Sum("amount_cents"))["total"]
        audit.record(action=f"billing.ledger.{kind}", target=entry, customer=locked, data={"balance_cents": after})
        return entry


def _threads() -> int:
    return THREADS if connection.vendor == "postgresql" else 1


def _race(charge, customer: Customer, orders: list[Order], amount_cents: int) -> tuple[float, int, int]:
    """Charge every order from the threads at once; (charges per second, charged, refused)."""
    threads_count = _threads()
    chunks = [orders[n::threads_count] for n in range(threads_count)]
    barrier = threading.Barrier(threads_count + 1)
    outcomes = {"charged": 0, "refused": 0}
    lock = threading.Lock()

    def work(chunk):
        barrier.wait()
        charged = refused = 0
        try:
            for order in chunk:
                try:
                    charge(
                        customer=customer,
                        amount_cents=amount_cents,
                        kind=LedgerEntryKind.PURCHASE,
                        order=order,
                        actor=None,
                    )
                    charged += 1
                except services.InsufficientFunds:
                    refused += 1
        finally:
            if threads_count > 1:
                connections.close_all()
            with lock:
                outcomes["charged"] += charged
                outcomes["refused"] += refused

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(orders) / elapsed, outcomes["charged"], outcomes["refused"]


def _overdrafts(customer: Customer) -> int:
    """Entries below zero, plus 1 if the running balance differs from the sum of the entries."""
    entries = LedgerEntry.objects.filter(customer=customer)
    negative = entries.filter(balance_after_cents__lt=0).count()
    total = entries.aggregate(total=Sum("amount_cents"))["total"] or 0
    return negative + (services.customer_balance(customer=customer) != total) + (total < 0)


def main() -> None:
    setup_test_environment()
    test_database()
    product = shop_product(price_cents=1)
    print(f"database: {connection.vendor}; {_threads()} thread(s) on one customer's balance")
    if connection.vendor != "postgresql":
        print("the target is for PostgreSQL: run `bash scripts/with-test-services.sh make bench`")
    results = {}
    for label, history in (("short", SHORT), ("long", LONG)):
        customer = _customer(f"hot {label}", history)
        orders = _orders(customer, product, CHARGES, label)
        # Enough money for three charges in four: the rest must be refused, never overdrawn.
        amount = 100 * history // (CHARGES * 3 // 4)
        rate, charged, refused = _race(services.balance_charge, customer, orders, amount)
        results[label] = rate
        print(
            f"running balance, {history:>7,} entries: {rate:7.0f} charges/s "
            f"({charged} charged, {refused} refused), overdrafts {_overdrafts(customer)}"
        )
    customer = _customer("hot baseline", LONG)
    orders = _orders(customer, product, BASELINE_CHARGES, "baseline")
    baseline, charged, refused = _race(_summing_charge, customer, orders, 100)
    print(f"baseline (sum twice per charge), {LONG:,} entries: {baseline:7.0f} charges/s ({charged} charged)")
    met = results["long"] >= TARGET_PER_SECOND
    print(
        f"charges/s at {LONG:,} entries: {results['long']:.0f} (target >= {TARGET_PER_SECOND}: "
        f"{'met' if met else 'NOT met'}), {results['long'] / baseline:.1f}x the baseline; "
        f"long/short history cost ratio {results['short'] / results['long']:.2f} (1.0 = flat)"
    )


if __name__ == "__main__":
    main()

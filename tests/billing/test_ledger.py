"""The ledger: balances are sums, entries never change, a charge never takes a balance below zero."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import QuerySet

from accounts.models import Customer
from billing import services
from billing.models import AppendOnlyError, LedgerEntry, LedgerEntryKind, Order
from ops.models import AuditEvent


def test_it_sums_the_entries_into_the_balance(customer_a, owner):
    assert services.customer_balance(customer=customer_a) == 0
    services.balance_top_up(customer=customer_a, amount_cents=5000, actor=owner, note="transfer")
    services.balance_top_up(customer=customer_a, amount_cents=250, actor=owner, note="")
    services.balance_adjust(customer=customer_a, amount_cents=-1000, actor=owner, note="chargeback")
    assert services.customer_balance(customer=customer_a) == 4250


def test_it_keeps_each_customers_balance_apart(customer_a, customer_b, owner):
    services.balance_top_up(customer=customer_a, amount_cents=700, actor=owner)
    assert services.customer_balance(customer=customer_b) == 0


def test_it_audits_every_money_movement(customer_a, support):
    entry = services.balance_top_up(customer=customer_a, amount_cents=900, actor=support, note="cash")
    event = AuditEvent.objects.get(action="billing.ledger.top_up")
    assert event.actor == support
    assert event.customer == customer_a
    assert event.target_id == str(entry.pk)
    assert event.data["amount_cents"] == 900
    assert event.data["balance_cents"] == 900


@pytest.mark.parametrize("amount", [0, -100])
def test_it_refuses_a_top_up_that_is_not_positive(customer_a, owner, amount):
    with pytest.raises(services.BillingError):
        services.balance_top_up(customer=customer_a, amount_cents=amount, actor=owner)
    assert not LedgerEntry.objects.exists()


def test_it_lets_only_owners_take_money_away(customer_a, owner, support):
    services.balance_top_up(customer=customer_a, amount_cents=1000, actor=owner)
    with pytest.raises(services.BillingError, match="Only owners"):
        services.balance_adjust(customer=customer_a, amount_cents=-100, actor=support, note="oops")
    services.balance_adjust(customer=customer_a, amount_cents=200, actor=support, note="goodwill")
    assert services.customer_balance(customer=customer_a) == 1200


def test_it_refuses_an_adjustment_below_zero(customer_a, owner):
    services.balance_top_up(customer=customer_a, amount_cents=1000, actor=owner)
    with pytest.raises(services.InsufficientFunds):
        services.balance_adjust(customer=customer_a, amount_cents=-1001, actor=owner, note="too much")
    assert services.customer_balance(customer=customer_a) == 1000


def test_it_refuses_to_change_or_delete_an_entry(customer_a, owner):
    entry = services.balance_top_up(customer=customer_a, amount_cents=1000, actor=owner)
    entry.amount_cents = 1_000_000
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount_cents=5)
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.all().delete()
    assert services.customer_balance(customer=customer_a) == 1000


@pytest.mark.parametrize(
    ("kind", "amount"),
    [(LedgerEntryKind.TOP_UP, -100), (LedgerEntryKind.REFUND, -100), (LedgerEntryKind.ADJUSTMENT, 0)],
)
def test_it_lets_the_database_refuse_entries_with_the_wrong_sign(customer_a, kind, amount):
    with pytest.raises(IntegrityError), transaction.atomic():
        # A valid place in the chain, so that only the sign is wrong.
        LedgerEntry.objects.create(
            customer=customer_a, kind=kind, amount_cents=amount, sequence=1, balance_after_cents=1000
        )


def _order(customer, product, key, price=3000):
    return Order.objects.create(customer=customer, product=product, price_cents=price, idempotency_key=key)


def test_it_refuses_a_charge_larger_than_the_balance(funded, shop_product):
    order = _order(funded, shop_product, "k1", price=5001)
    with pytest.raises(services.InsufficientFunds, match="Insufficient balance"):
        services.balance_charge(
            customer=funded, amount_cents=5001, kind=LedgerEntryKind.PURCHASE, order=order, actor=None
        )
    assert services.customer_balance(customer=funded) == 5000


def test_it_lets_the_database_refuse_a_second_charge_for_one_order(funded, shop_product):
    order = _order(funded, shop_product, "k1", price=100)
    services.balance_charge(customer=funded, amount_cents=100, kind=LedgerEntryKind.PURCHASE, order=order, actor=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            customer=funded,
            kind=LedgerEntryKind.PURCHASE,
            amount_cents=-100,
            order=order,
            sequence=99,
            balance_after_cents=4800,
        )


@pytest.mark.django_db(transaction=True)
def test_it_never_goes_negative_when_two_charges_race(customer_a, owner, shop_product):
    """Two charges of 30.00 against 50.00: exactly one succeeds. Real threads on PostgreSQL (make test).

    SQLite has no row locks (it serialises whole writes instead), so there the same guarantee is shown
    by the path it rests on: the customer row is taken with select_for_update() before the balance is read.
    """
    services.balance_top_up(customer=customer_a, amount_cents=5000, actor=owner)
    orders = [_order(customer_a, shop_product, f"race-{n}") for n in range(2)]

    def charge(order):
        return services.balance_charge(
            customer=customer_a, amount_cents=3000, kind=LedgerEntryKind.PURCHASE, order=order, actor=None
        )

    if connection.vendor == "postgresql":
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def worker(order):
            barrier.wait()
            try:
                charge(order)
                outcomes.append("charged")
            except services.InsufficientFunds:
                outcomes.append("refused")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=(order,)) for order in orders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(outcomes) == ["charged", "refused"]
    else:
        original = QuerySet.select_for_update
        locked_models = []

        def spy(queryset, *args, **kwargs):
            locked_models.append(queryset.model)
            return original(queryset, *args, **kwargs)

        with mock.patch.object(QuerySet, "select_for_update", autospec=True, side_effect=spy):
            charge(orders[0])
            with pytest.raises(services.InsufficientFunds):
                charge(orders[1])
        assert locked_models.count(Customer) == 2
    assert services.customer_balance(customer=customer_a) == 2000
    assert LedgerEntry.objects.filter(kind=LedgerEntryKind.PURCHASE).count() == 1


def test_it_keeps_each_entry_s_running_balance_equal_to_the_sum_so_far(funded, shop_product, owner):
    order = _order(funded, shop_product, "k1", price=1200)
    services.balance_charge(customer=funded, amount_cents=1200, kind=LedgerEntryKind.PURCHASE, order=order, actor=None)
    services.balance_adjust(customer=funded, amount_cents=-300, actor=owner, note="correction")
    services.balance_top_up(customer=funded, amount_cents=700, actor=owner)

    entries = list(LedgerEntry.objects.filter(customer=funded).order_by("sequence"))
    assert [entry.sequence for entry in entries] == [1, 2, 3, 4]
    running = 0
    for entry in entries:
        running += entry.amount_cents
        assert entry.balance_after_cents == running
    assert services.customer_balance(customer=funded) == running == 5000 - 1200 - 300 + 700


def test_it_lets_the_database_refuse_an_overdraft_and_a_fork_in_the_chain(funded, shop_product):
    order = _order(funded, shop_product, "k1", price=100)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            customer=funded,
            kind=LedgerEntryKind.PURCHASE,
            amount_cents=-100,
            order=order,
            sequence=2,
            balance_after_cents=-1,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        # A second entry 1: computed from the same (stale) balance as the first.
        LedgerEntry.objects.create(
            customer=funded,
            kind=LedgerEntryKind.PURCHASE,
            amount_cents=-100,
            order=order,
            sequence=1,
            balance_after_cents=4900,
        )

"""The ledger's one-statement append on PostgreSQL (`billing_ledger_append`, migration 0008): it writes what
the Python path writes (entry and audit row), refuses the same overdrafts, and never overdraws under real
concurrency. SQLite keeps the Python path (the rest of tests/billing covers it there)."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum
from django.forms.models import model_to_dict

from billing import services
from billing.models import AppendOnlyError, LedgerEntry, LedgerEntryKind, Order
from ops.models import AuditEvent
from tests.factories import CustomerFactory


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement append is PostgreSQL's (SQLite keeps the Python path)")


def _order(customer, product, key, price=1200):
    return Order.objects.create(customer=customer, product=product, price_cents=price, idempotency_key=key)


def _steps(append, customer, product, owner):
    """The same money movements through one path; the refused one gives back its balance."""
    refused = []

    def refuse(balance):
        refused.append(balance)
        return services.InsufficientFunds("short")

    def step(amount_cents, kind, **kwargs):
        note, order, reference = kwargs.get("note", ""), kwargs.get("order"), kwargs.get("reference", "")
        audit_data = {"amount_cents": amount_cents, "order": order.pk if order else None, "note": note}
        if reference:
            audit_data["reference"] = reference
        try:
            return append(
                customer=customer,
                amount_cents=amount_cents,
                kind=kind,
                actor=kwargs.get("actor"),
                note=note,
                order=order,
                reference=reference,
                refuse=kwargs.get("refuse"),
                audit_data=audit_data,
            )
        except services.InsufficientFunds:
            return None

    purchase = _order(customer, product, f"{append.__name__}-1")
    step(5000, LedgerEntryKind.TOP_UP, actor=owner, note="bank transfer")
    step(-1200, LedgerEntryKind.PURCHASE, order=purchase, note="Purchase: plan", refuse=refuse)
    step(-300, LedgerEntryKind.ADJUSTMENT, actor=owner, note="correction " + "x" * 400, refuse=refuse)
    step(-9000, LedgerEntryKind.PURCHASE, order=_order(customer, product, f"{append.__name__}-2"), refuse=refuse)
    step(2500, LedgerEntryKind.PAYMENT, reference=f"cs_{customer.pk}", note="online")
    step(-4000, LedgerEntryKind.CHARGEBACK, reference=f"dp_{customer.pk}")
    step(1200, LedgerEntryKind.REFUND, order=purchase, note="Refund: plan")
    return refused


def _unique(value, customer):
    """A reference without the customer's number (references are unique across customers)."""
    return value.removesuffix(f"_{customer.pk}")


def _chain(customer):
    entries = LedgerEntry.objects.filter(customer=customer).order_by("sequence")
    return [
        (
            e.sequence,
            e.amount_cents,
            e.balance_after_cents,
            e.kind,
            e.note,
            _unique(e.reference, customer),
            bool(e.order_id),
            e.actor_id,
        )
        for e in entries
    ]


def _audit(customer):
    events = AuditEvent.objects.filter(customer=customer).order_by("id")
    return [
        (
            e.action,
            e.actor_id,
            e.actor_label,
            e.target_type,
            LedgerEntry.objects.get(pk=e.target_id).sequence,
            {**e.data, "order": bool(e.data["order"]), "reference": _unique(e.data.get("reference", ""), customer)},
        )
        for e in events
    ]


def test_it_writes_the_entries_and_audit_rows_the_python_path_writes(shop_product, owner):
    in_python, in_one_statement = CustomerFactory(name="Python path"), CustomerFactory(name="Function path")

    refused_python = _steps(services._append_in_python, in_python, shop_product, owner)
    refused_function = _steps(services._append_in_one_statement, in_one_statement, shop_product, owner)

    assert refused_python == refused_function == [3500]
    assert _chain(in_python) == _chain(in_one_statement)
    assert [entry[2] for entry in _chain(in_one_statement)] == [5000, 3800, 3500, 6000, 2000, 3200]
    assert _audit(in_python) == _audit(in_one_statement)
    charge = AuditEvent.objects.get(customer=in_one_statement, action="billing.ledger.purchase")
    assert charge.data == {
        "amount_cents": -1200,
        "balance_cents": 3800,
        "order": Order.objects.get(idempotency_key="_append_in_one_statement-1").pk,
        "note": "Purchase: plan",
    }


def test_the_entry_it_returns_is_the_row_it_wrote_and_stays_append_only(funded, shop_product):
    order = _order(funded, shop_product, "k1")
    entry = services.balance_charge(
        customer=funded, amount_cents=1200, kind=LedgerEntryKind.PURCHASE, order=order, actor=None, note="plan"
    )

    assert model_to_dict(entry) == model_to_dict(LedgerEntry.objects.get(pk=entry.pk))
    assert entry.created_at == LedgerEntry.objects.get(pk=entry.pk).created_at
    assert (entry.sequence, entry.balance_after_cents) == (2, 3800)
    with pytest.raises(AppendOnlyError):
        entry.save()


def test_a_refused_charge_writes_nothing(funded, shop_product):
    order = _order(funded, shop_product, "k1", price=5001)
    with pytest.raises(services.InsufficientFunds, match=r"your balance is .*50\.00"):
        services.balance_charge(
            customer=funded, amount_cents=5001, kind=LedgerEntryKind.PURCHASE, order=order, actor=None
        )
    assert LedgerEntry.objects.filter(customer=funded).count() == 1
    assert not AuditEvent.objects.filter(action="billing.ledger.purchase").exists()


def test_a_second_charge_for_an_order_fails_alone_inside_a_callers_transaction(funded, shop_product, owner):
    order = _order(funded, shop_product, "k1")
    with transaction.atomic():
        services.balance_charge(
            customer=funded, amount_cents=1200, kind=LedgerEntryKind.PURCHASE, order=order, actor=None
        )
        with pytest.raises(IntegrityError):
            services.balance_charge(
                customer=funded, amount_cents=1200, kind=LedgerEntryKind.PURCHASE, order=order, actor=None
            )
        # The savepoint kept the caller's transaction usable.
        services.balance_top_up(customer=funded, amount_cents=100, actor=owner)
    assert services.customer_balance(customer=funded) == 5000 - 1200 + 100
    assert [entry[0] for entry in _chain(funded)] == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_many_threads_charging_one_balance_never_overdraw_it(customer_a, owner, shop_product):
    services.balance_top_up(customer=customer_a, amount_cents=5000, actor=owner)
    orders = [_order(customer_a, shop_product, f"race-{n}", price=100) for n in range(80)]
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    outcomes: list[str] = []

    def work(chunk):
        barrier.wait()
        try:
            for order in chunk:
                try:
                    services.balance_charge(
                        customer=customer_a, amount_cents=100, kind=LedgerEntryKind.PURCHASE, order=order, actor=None
                    )
                    outcomes.append("charged")
                except services.InsufficientFunds:
                    outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(orders[n::threads_count],)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes.count("charged") == 50
    assert outcomes.count("refused") == 30
    chain = _chain(customer_a)
    assert [entry[0] for entry in chain] == list(range(1, 52))
    running = 0
    for _sequence, amount, balance_after, *_rest in chain:
        running += amount
        assert balance_after == running >= 0
    assert LedgerEntry.objects.filter(customer=customer_a).aggregate(total=Sum("amount_cents"))["total"] == 0
    assert services.customer_balance(customer=customer_a) == 0
    assert AuditEvent.objects.filter(customer=customer_a, action="billing.ledger.purchase").count() == 50


def _function_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = 'billing_ledger_append'")
        return cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_its_migration_creates_the_function_and_its_reverse_drops_it():
    assert _function_exists()
    executor = MigrationExecutor(connection)
    executor.migrate([("billing", "0007_list_seek_indexes")])
    try:
        assert not _function_exists()
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert _function_exists()

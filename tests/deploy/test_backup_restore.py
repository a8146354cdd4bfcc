"""Backups: scripts/backup.sh dumps the database, keeps a window of dumps, and scripts/restore.sh brings a
dump back into a fresh database whose ledger balances match the original's (PostgreSQL, under make test)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.db.models import Count, Sum

from billing import services
from billing.models import LedgerEntry
from tests.factories import CustomerFactory
from tests.support.processes import PROJECT_ROOT

PG_BIN = os.environ.get("PG_BIN") or next(
    (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True) if (p / "pg_dump").exists()),
    "",
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def on_postgresql(db):
    """Dumps are PostgreSQL's: the quick SQLite loop leaves these to make test, where they must run."""
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_TEST_SERVICES") == "1":
            pytest.fail("make test runs on PostgreSQL; this run is on SQLite")
        pytest.skip("backups need PostgreSQL: run through make test")
    assert PG_BIN, "pg_dump not found under /usr/lib/postgresql/*/bin"


def _url(database: str | None = None) -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{database or db['NAME']}"


def run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(PROJECT_ROOT / "scripts" / script), *args],
        env={**os.environ, "PG_BIN": PG_BIN, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def fresh_database():
    """An empty database beside the test database, dropped afterwards."""
    name = f"restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(_url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ledger(owner):
    """Three customers with top-ups and corrections both ways: balances 10 055, 18 766 and 27 532 cents."""
    customers = [CustomerFactory(name=f"Restore {n}") for n in range(3)]
    for n, customer in enumerate(customers):
        services.balance_top_up(customer=customer, amount_cents=10_000 * (n + 1), actor=owner, note="wire")
        services.balance_adjust(customer=customer, amount_cents=-1_234 * n or 55, actor=owner, note="fix")
    return customers


def balances_here() -> dict[int, tuple[int, int]]:
    rows = LedgerEntry.objects.values("customer_id").annotate(total=Sum("amount_cents"), entries=Count("id"))
    return {row["customer_id"]: (row["total"], row["entries"]) for row in rows}


def balances_in(database: str) -> dict[int, tuple[int, int]]:
    table = LedgerEntry._meta.db_table
    with psycopg.connect(_url(database)) as restored:
        rows = restored.execute(
            f"SELECT customer_id, SUM(amount_cents), COUNT(*) FROM {table} GROUP BY customer_id"
        ).fetchall()
    return {customer_id: (int(total), entries) for customer_id, total, entries in rows}


def test_a_dump_restored_into_a_fresh_database_has_the_same_ledger_balances(tmp_path, fresh_database, owner):
    customers = ledger(owner)
    expected = balances_here()
    assert {c.pk: services.customer_balance(customer=c) for c in customers} == {
        pk: total for pk, (total, _) in expected.items() if pk in {c.pk for c in customers}
    }

    backup = run("backup.sh", DATABASE_URL=_url(), BACKUP_DIR=str(tmp_path))
    assert backup.returncode == 0, backup.stderr
    (dump,) = tmp_path.glob("*.dump")

    restore = run("restore.sh", str(dump), _url(fresh_database))
    assert restore.returncode == 0, restore.stderr

    assert balances_in(fresh_database) == expected
    assert all(total > 0 for total, _ in balances_in(fresh_database).values())


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, owner):
    ledger(owner)
    assert run("backup.sh", DATABASE_URL=_url(), BACKUP_DIR=str(tmp_path)).returncode == 0
    (dump,) = tmp_path.glob("*.dump")

    refused = run("restore.sh", str(dump), _url())

    assert refused.returncode == 3
    assert "restore into a fresh, empty database" in refused.stderr


def test_it_keeps_the_retention_window_and_reports_a_fresh_dump(tmp_path):
    old = tmp_path / "app-20200101T000000Z.dump"
    old.write_bytes(b"old")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old, (ten_days_ago, ten_days_ago))
    recent = tmp_path / "app-recent.dump"
    recent.write_bytes(b"recent")
    four_days_ago = time.time() - 4 * 86400
    os.utime(recent, (four_days_ago, four_days_ago))

    stale = run("backup.sh", "--check", BACKUP_DIR=str(tmp_path), BACKUP_MAX_AGE_SECONDS="3600")
    assert stale.returncode == 1

    made = run("backup.sh", DATABASE_URL=_url(), BACKUP_DIR=str(tmp_path), BACKUP_KEEP_DAYS="7")
    assert made.returncode == 0, made.stderr

    assert not old.exists()
    assert recent.exists()
    assert len(list(tmp_path.glob("*.dump"))) == 2
    assert run("backup.sh", "--check", BACKUP_DIR=str(tmp_path), BACKUP_MAX_AGE_SECONDS="3600").returncode == 0


def test_a_failed_dump_leaves_no_file_that_looks_complete(tmp_path):
    failed = run("backup.sh", DATABASE_URL=_url("no_such_database"), BACKUP_DIR=str(tmp_path))
    assert failed.returncode != 0
    assert list(tmp_path.glob("*.dump")) == []

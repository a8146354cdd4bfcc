"""What the benchmarks share: a fresh test database for one benchmark process."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from django.db import connection, connections


def test_database() -> None:
    """Switch to a new test database, replacing one an interrupted earlier benchmark left, dropped at exit.

    Every benchmark is its own process on the same server (`make bench`), so each must leave no database behind.
    On SQLite it is a file with the settings' options (write-ahead log), as the embedded default runs, not the
    test runner's in-memory database, whose commits cost nothing.
    """
    old_name = connection.settings_dict["NAME"]
    directory = None
    if connection.vendor == "sqlite":
        directory = tempfile.mkdtemp(prefix="proxyreseller-bench-")
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(Path(directory) / "bench.sqlite3")
    connection.creation.create_test_db(verbosity=0, autoclobber=True)

    def drop() -> None:
        connections.close_all()  # threads' connections too: a database in use cannot be dropped
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if directory:
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(drop)


def shop_product(*, price_cents: int):
    """A proxy-shop plan on an account no request reaches: what charges and orders need, nothing upstream."""
    from billing.models import Product
    from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_PLAN
    from providers.models import ProviderAccount

    account = ProviderAccount(name="bench shop", kind=PROXY_SHOP, base_url="http://sandbox.test/shop")
    account.secret = "rk_sandbox"
    account.save()
    return Product.objects.create(
        name="bench",
        kind=SHOP_PLAN,
        account=account,
        parameters={"plan_id": "x"},
        price_cents=price_cents,
        renewal_price_cents=price_cents,
    )

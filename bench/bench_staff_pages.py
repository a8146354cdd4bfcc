"""Staff customer list with 5,000 customers: render time and query count (test database, SQLite in memory).

Target: under 1.5 s per full page and a constant number of queries (no N+1) as customers grow.
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
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from accounts.models import Customer, Role, User  # noqa: E402
from bench.support import test_database  # noqa: E402
from tests.support.second_factor import mark_verified  # noqa: E402

CUSTOMERS = 5_000  # the list shows 50 a page; search and count still scan all
ROUNDS = 10
logging.disable(logging.WARNING)


def main() -> None:
    setup_test_environment()
    test_database()
    Customer.objects.bulk_create(
        Customer(name=f"Customer {n:05d}", contact_email=f"c{n}@example.com") for n in range(CUSTOMERS)
    )
    staff = User.objects.create(username="bench-support", role=Role.SUPPORT)
    client = Client()
    client.force_login(staff)
    mark_verified(client, staff)  # staff pages need the second factor; the bench measures the page, not sign-in
    client.get("/staff/customers/")  # warm caches and templates
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = client.get("/staff/customers/")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get("/staff/customers/")
    with CaptureQueriesContext(connection) as search_queries:
        started = time.perf_counter()
        client.get("/staff/customers/?q=Customer%2004", headers={"HX-Request": "true"})
        search = time.perf_counter() - started
    print(
        f"customer list, {CUSTOMERS} customers: median {statistics.median(timings) * 1000:.0f} ms, "
        f"max {max(timings) * 1000:.0f} ms over {ROUNDS} requests, {len(queries)} queries"
    )
    print(f"htmx search fragment: {search * 1000:.0f} ms, {len(search_queries)} queries")


if __name__ == "__main__":
    main()

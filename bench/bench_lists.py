"""Lists at size on PostgreSQL: the staff inventory (100,000 resources) against Django admin's changelist in
the same run, the portal of a customer with 10,000 proxies and its streamed exports, and the staff customer
and billing lists at 100,000 customers and 1,000,000 ledger entries.

Targets (issue 11):
- staff inventory: a deep page and a text search each at least 5x faster than admin's changelist for
  Resource; at most 10 queries at any depth;
- portal: `/portal/` under 300 ms; each export of 10,000 lines under 1 s, streamed, with the same peak
  memory (tracemalloc) at 100,000 lines as at 10,000 (within 1.5x);
- customers, balances and a customer's ledger: deep pages and searches as fast as the first page (seek),
  shown beside admin's changelist (OFFSET + COUNT) for the same model.

Needs PostgreSQL (the trigram indexes and the planner's estimates are the point): without a PostgreSQL
DATABASE_URL it runs itself again under scripts/with-test-services.sh, which starts a private server.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    os.execvp("bash", ["bash", str(ROOT / "scripts" / "with-test-services.sh"), sys.executable, __file__])

import django  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from accounts.models import Customer, Role, User  # noqa: E402
from bench.support import test_database  # noqa: E402
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_SUBSCRIPTION  # noqa: E402
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN, UNKNOWN_PROXIES  # noqa: E402
from inventory import selectors  # noqa: E402
from inventory.models import Resource  # noqa: E402
from ops import seek  # noqa: E402
from providers.models import ProviderAccount  # noqa: E402
from tests.support.second_factor import mark_verified  # noqa: E402

RESOURCES = 100_000
CUSTOMERS = 100_000
LEDGER_ENTRIES = 1_000_000
PORTAL_PROXIES = 10_000
ROUNDS = 7
logging.disable(logging.WARNING)
# The settings' ALLOWED_HOSTS for the test client.
os.environ.setdefault("ALLOWED_HOSTS", "testserver")


def timed(client: Client, url: str, rounds: int = ROUNDS, **headers) -> tuple[float, int, int]:
    """Median seconds over `rounds` GETs (after one warm-up), the queries of one, and its status."""
    client.get(url, headers=headers)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        if response.streaming:
            for _chunk in response.streaming_content:
                pass
        times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
        if response.streaming:
            for _chunk in response.streaming_content:
                pass
    assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), len(queries), response.status_code


def setup_data() -> dict:
    started = time.perf_counter()
    resi = ProviderAccount(name="bench resi", kind=UNKNOWN_PROXIES, base_url="http://sandbox.test/up")
    resi.secret = "x"
    resi.save()
    shop = ProviderAccount(name="bench shop", kind=PROXY_SHOP, base_url="http://sandbox.test/shop")
    shop.secret = "x"
    shop.save()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_customer (name, contact_email, status, notes, created_at)
            SELECT initcap(substr(md5(g::text), 1, 7)) || ' '
                   || (ARRAY['Ltd', 'GmbH', 'Labs', 'Bots', 'Data'])[g %% 5 + 1],
                   'c' || g || '@' || substr(md5((g * 7)::text), 1, 6) || '.example.com', 'active', '',
                   now() - g * interval '1 minute'
            FROM generate_series(1, %s) g
            """,
            [CUSTOMERS],
        )
        cursor.execute("SELECT min(id), max(id) FROM accounts_customer")
        first_customer, last_customer = cursor.fetchone()
        portal10 = Customer.objects.create(name="Portal Ten Thousand", contact_email="p10@example.com")
        ledger_heavy = Customer.objects.create(name="Ledger Heavy", contact_email="ledger@example.com")
        # 85% residential tokens, 10% ISP tokens with 4 proxies, 5% shop subscriptions; a third in stock;
        # the first 10,000 belong to one portal customer; one in seven never expires.
        cursor.execute(
            """
            INSERT INTO inventory_resource (account_id, kind, upstream_id, customer_id, label, status, expires_at,
                data_used_bytes, data_limit_bytes, upstream, first_seen_at, last_synced_at, fingerprint)
            SELECT CASE WHEN g %% 20 = 0 THEN %(shop)s ELSE %(resi)s END,
                   CASE WHEN g %% 20 = 0 THEN %(shop_kind)s WHEN g %% 10 = 1 THEN %(isp_kind)s ELSE %(resi_kind)s END,
                   'tok' || lpad(g::text, 7, '0') || substr(md5(g::text), 1, 6),
                   CASE WHEN g <= %(portal)s THEN %(portal_customer)s
                        WHEN g %% 3 = 0 THEN NULL
                        ELSE %(first)s
                             + ('x' || substr(md5(g::text), 1, 8))::bit(32)::bigint %% (%(last)s - %(first)s + 1) END,
                   'user' || substr(md5((g * 13)::text), 1, 10),
                   (ARRAY['active', 'active', 'active', 'expired', 'processing', 'vanished'])[g %% 6 + 1],
                   CASE WHEN g %% 7 = 0 THEN NULL ELSE now() + ((g * 37) %% 90000) * interval '1 minute' END,
                   (g::bigint * 104729) %% 100000000000, 100000000000,
                   jsonb_build_object(
                       'token', 'tok' || g, 'username', 'user' || substr(md5((g * 13)::text), 1, 10),
                       'password', substr(md5((g * 17)::text), 1, 12), 'dataLimit', 100000000000,
                       'dataUsage', (g::bigint * 104729) %% 100000000000, 'durationHours', 720,
                       'allowedPools', '[]'::jsonb,
                       'authType', 'userpass', 'proxyType', 'http',
                       'proxies', CASE WHEN g %% 10 = 1 THEN jsonb_build_array(
                           '10.0.' || (g %% 250) || '.1:8000', '10.0.' || (g %% 250) || '.2:8000',
                           '10.0.' || (g %% 250) || '.3:8000', '10.0.' || (g %% 250) || '.4:8000')
                           ELSE '[]'::jsonb END,
                       'networkLabel', 'NL-AMS Amsterdam',
                       'credentials', jsonb_build_object('username', 'u_' || g, 'password', 'p_' || g),
                       'protocols', jsonb_build_object(
                           'http', 'http://u_' || g || ':p_' || g || '@proxy.example.com:' || (10000 + g %% 5000),
                           'socks5', 'socks5://u_' || g || ':p_' || g || '@proxy.example.com:' || (10000 + g %% 5000)),
                       'createdAt', '2026-11-01T00:00:00Z', 'note', repeat('x', 200)),
                   now(), now(), ''
            FROM generate_series(1, %(n)s) g
            """,
            {
                "shop": shop.pk,
                "resi": resi.pk,
                "shop_kind": SHOP_SUBSCRIPTION,
                "isp_kind": ISP_TOKEN,
                "resi_kind": RESI_TOKEN,
                "portal": PORTAL_PROXIES,
                "portal_customer": portal10.pk,
                "first": first_customer,
                "last": last_customer,
                "n": RESOURCES,
            },
        )
        # Portal customer's proxies are live (the export counts lines of live proxies).
        cursor.execute(
            "UPDATE inventory_resource SET status = 'active' WHERE customer_id = %s AND status = 'vanished'",
            [portal10.pk],
        )
        heavy = LEDGER_ENTRIES // 10
        cursor.execute(
            """
            INSERT INTO billing_ledgerentry
                (customer_id, amount_cents, kind, note, reference, created_at, sequence, balance_after_cents)
            SELECT customer_id, amount_cents, 'top_up', '', '', created_at,
                   row_number() OVER chain, sum(amount_cents) OVER chain
            FROM (
                SELECT CASE WHEN g <= %(heavy)s THEN %(heavy_customer)s
                            ELSE %(first)s + (g::bigint * 7919) %% (%(last)s - %(first)s + 1) END AS customer_id,
                       100 + g %% 900 AS amount_cents, now() - g * interval '1 second' AS created_at
                FROM generate_series(1, %(n)s) g
            ) entries
            WINDOW chain AS (PARTITION BY customer_id ORDER BY created_at)
            """,
            {
                "heavy": heavy,
                "heavy_customer": ledger_heavy.pk,
                "first": first_customer,
                "last": last_customer,
                "n": LEDGER_ENTRIES,
            },
        )
        # As autovacuum leaves a table soon after a bulk load: statistics taken and the trigram indexes'
        # pending lists merged (they hold a sync's new rows until then).
        cursor.execute("VACUUM ANALYZE")
    print(
        f"setup: {RESOURCES:,} resources, {CUSTOMERS:,} customers, {LEDGER_ENTRIES:,} ledger entries "
        f"in {time.perf_counter() - started:.0f} s (PostgreSQL {connection.pg_version // 10000})"
    )
    return {"portal10": portal10, "ledger_heavy": ledger_heavy}


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def bench_inventory(staff: Client) -> None:
    order = selectors.STAFF_SORTS[0]
    ordered = Resource.objects.order_by(*order.fields).values(*order.fields)
    deep_row = ordered[int(RESOURCES * 0.9)]
    deep = seek.cursor_after(deep_row, order)
    search = Resource.objects.values_list("label", flat=True).order_by("id")[54321][4:10]
    admin_deep_page = int(RESOURCES * 0.9) // 100  # admin shows 100 a page
    one_customer = Customer.objects.filter(resources__isnull=False).order_by("id").first().name.split()[0]
    cases = [
        ("first page", "/staff/inventory/", "/admin/inventory/resource/"),
        ("deep page (90%)", f"/staff/inventory/?after={deep}", f"/admin/inventory/resource/?p={admin_deep_page}"),
        ("text search", f"/staff/inventory/?q={search}", f"/admin/inventory/resource/?q={search}"),
        ("one customer's name", f"/staff/inventory/?q={one_customer}", f"/admin/inventory/resource/?q={one_customer}"),
        ("a fifth of customers", "/staff/inventory/?q=Labs", "/admin/inventory/resource/?q=Labs"),
    ]
    print(f"staff inventory list, {RESOURCES:,} resources (ours 50 a page; admin's changelist 100 a page):")
    for name, ours, admin in cases:
        our_time, our_queries, _ = timed(staff, ours)
        admin_time, admin_queries, _ = timed(staff, admin, rounds=3)
        ratio = admin_time / our_time
        target = (
            "" if name == "first page" else (f" target >=5x, <=10 queries: {verdict(ratio >= 5 and our_queries <= 10)}")
        )
        print(
            f"  {name:22s} ours {our_time * 1000:7.1f} ms ({our_queries} queries) | admin {admin_time * 1000:7.1f} ms "
            f"({admin_queries} queries) | {ratio:5.1f}x faster.{target}"
        )
    for sort in ("-label", "expires", "-expires", "status", "-id"):
        sort_order = seek.sort_order(selectors.STAFF_SORTS, sort)
        row = Resource.objects.order_by(*(f"-{f}" if sort_order.descending else f for f in sort_order.fields))
        if sort_order.nullable:
            row = row.filter(**{f"{sort_order.fields[0]}__isnull": False})
        cursor = seek.cursor_after(row.values(*sort_order.fields)[int(RESOURCES * 0.5)], sort_order)
        spent, queries, _ = timed(staff, f"/staff/inventory/?sort={sort}&after={cursor}", rounds=3)
        print(f"  deep page by {sort:9s} {spent * 1000:7.1f} ms ({queries} queries)")


def bench_portal(data: dict) -> None:
    portal = Client()
    user = User.objects.create(username="bench-portal", role=Role.CUSTOMER, customer=data["portal10"])
    portal.force_login(user)
    print(f"portal, a customer with {PORTAL_PROXIES:,} proxies:")
    for name, url in [
        ("/portal/", "/portal/"),
        ("/portal/ expires latest", "/portal/?sort=-expires"),
        ("/portal/ search", "/portal/?q=user3"),
        ("/portal/ filtered", "/portal/?status=expired&kind=resi_token"),
    ]:
        spent, queries, _ = timed(portal, url)
        print(f"  {name:24s} {spent * 1000:7.1f} ms ({queries} queries); target <300 ms: {verdict(spent < 0.3)}")
    for export_format in ("txt", "at", "http", "socks5", "csv", "json"):
        spent, queries, _ = timed(portal, f"/portal/proxies/export.{export_format}", rounds=3)
        print(
            f"  export {export_format:7s} {PORTAL_PROXIES:,}+ lines: {spent * 1000:7.1f} ms ({queries} queries); "
            f"target <1 s: {verdict(spent < 1.0)}"
        )
    peaks = {}
    for size in (PORTAL_PROXIES, 10 * PORTAL_PROXIES):
        # The same customer holding 10,000 and then 100,000 proxies (the others are given to them).
        ids = Resource.objects.exclude(status="vanished").order_by("id").values("id")[:size]
        Resource.objects.filter(id__in=ids).update(customer=data["portal10"])
        response = portal.get("/portal/proxies/export.txt")
        tracemalloc.start()
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        peaks[size] = (tracemalloc.get_traced_memory()[1], lines)
        tracemalloc.stop()
    (small, small_lines), (large, large_lines) = peaks.values()
    print(
        f"  export peak memory: {small / 1e6:.1f} MB at {small_lines:,} lines, {large / 1e6:.1f} MB at "
        f"{large_lines:,} lines ({large / small:.2f}x); target the same (<=1.5x): {verdict(large <= 1.5 * small)}"
    )


def bench_customers_and_billing(staff: Client, data: dict) -> None:
    order = selectors_customer_order()
    deep_row = Customer.objects.order_by(*order.fields).values(*order.fields)[int(CUSTOMERS * 0.9)]
    deep = seek.cursor_after(deep_row, order)
    heavy = data["ledger_heavy"]
    from billing.selectors import NEWEST_FIRST

    entries = heavy.ledger_entries.order_by("-created_at", "-id").values("created_at", "id")
    ledger_deep = seek.cursor_after(entries[int(LEDGER_ENTRIES // 10 * 0.9)], NEWEST_FIRST)
    print(f"staff customers ({CUSTOMERS:,}) and billing ({LEDGER_ENTRIES:,} ledger entries):")
    cases = [
        ("customers, first page", "/staff/customers/", "/admin/accounts/customer/"),
        ("customers, deep page", f"/staff/customers/?after={deep}", f"/admin/accounts/customer/?p={CUSTOMERS // 110}"),
        ("customers, search", "/staff/customers/?q=labs", "/admin/accounts/customer/?q=labs"),
        ("balances, deep page", f"/staff/billing/?after={deep}", None),
        ("balances, search", "/staff/billing/?q=c4242", None),
        (
            "ledger (100,000), deep",
            f"/staff/billing/customers/{heavy.pk}/?after={ledger_deep}",
            f"/admin/billing/ledgerentry/?customer__id__exact={heavy.pk}&p=900",
        ),
    ]
    for name, ours, admin in cases:
        our_time, our_queries, _ = timed(staff, ours, rounds=5)
        line = f"  {name:24s} ours {our_time * 1000:7.1f} ms ({our_queries} queries)"
        if admin:
            admin_time, admin_queries, _ = timed(staff, admin, rounds=3)
            line += f" | admin {admin_time * 1000:7.1f} ms ({admin_queries} queries) | {admin_time / our_time:5.1f}x"
        print(line)


def selectors_customer_order():
    from accounts.selectors import CUSTOMER_SORTS

    return CUSTOMER_SORTS[0]


def main() -> None:
    setup_test_environment()
    test_database()
    data = setup_data()
    owner = User.objects.create(username="bench-owner", role=Role.OWNER, is_staff=True, is_superuser=True)
    staff = Client()
    staff.force_login(owner)
    mark_verified(staff, owner)  # staff pages need the second factor; the bench measures the page, not sign-in
    bench_inventory(staff)
    bench_customers_and_billing(staff, data)
    bench_portal(data)


if __name__ == "__main__":
    main()

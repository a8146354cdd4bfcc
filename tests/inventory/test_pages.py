"""Staff see and assign the whole inventory; customers see only their own proxies, and export them."""

from __future__ import annotations

import csv
import html
import io
import re

from integrations.iproxy.kinds import IPROXY_CONNECTION
from integrations.proxyshop.kinds import SHOP_SUBSCRIPTION
from ops.models import AuditEvent
from tests.factories import ResourceFactory

SHOP_UPSTREAM = {
    "subscriptionId": "j97b2f6m1k4n8p3r5t7v9x0z",
    "status": "active",
    "activeUntil": 1762592000000,
    "label": "12001 - NL - Private",
    "networkLabel": "NL-AMS Amsterdam",
    "credentials": {"username": "u_6k8s9d", "password": "p_2n4m6q"},
    "protocols": {"http": "http://u_6k8s9d:p_2n4m6q@proxy.example.com:12001", "socks5": "socks5://x"},
    "rotate": {"rotatePath": "/r/abcd1234", "available": True},
}


def test_staff_filter_the_inventory_by_customer_and_kind(client, support, customer_a, customer_b):
    mine = ResourceFactory(customer=customer_a, label="alicetok")
    ResourceFactory(customer=customer_b, label="bobtoken")
    ResourceFactory(label="stocktok")
    client.force_login(support)
    page = client.get("/staff/inventory/", {"customer": str(customer_a.pk)}).content.decode()
    assert "alicetok" in page and "bobtoken" not in page and "stocktok" not in page
    unassigned = client.get("/staff/inventory/", {"customer": "none"}).content.decode()
    assert "stocktok" in unassigned and "alicetok" not in unassigned
    fragment = client.get("/staff/inventory/", {"q": "bob"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and "bobtoken" in fragment
    assert client.get(f"/staff/inventory/{mine.pk}/").status_code == 200
    assert "kGyohRda" not in page  # credentials live on the detail page only


def test_staff_assign_a_resource_and_it_is_audited(client, support, customer_a):
    resource = ResourceFactory()
    client.force_login(support)
    response = client.post(f"/staff/inventory/{resource.pk}/assign/", {"customer": customer_a.pk})
    assert response.status_code == 302
    resource.refresh_from_db()
    assert resource.customer == customer_a
    event = AuditEvent.objects.get(action="inventory.assign")
    assert event.data == {"from": None, "to": customer_a.name}
    client.post(f"/staff/inventory/{resource.pk}/assign/", {"customer": ""})
    resource.refresh_from_db()
    assert resource.customer is None
    assert AuditEvent.objects.filter(action="inventory.unassign", customer=customer_a).exists()


def test_a_suspended_customer_cannot_receive_proxies(client, support, customer_a):
    customer_a.status = "suspended"
    customer_a.save()
    resource = ResourceFactory()
    client.force_login(support)
    response = client.post(f"/staff/inventory/{resource.pk}/assign/", {"customer": customer_a.pk}, follow=True)
    assert "is suspended: only active customers can receive proxies" in response.content.decode()
    resource.refresh_from_db()
    assert resource.customer is None


def test_customers_cannot_reach_the_staff_inventory(client, alice):
    client.force_login(alice)
    assert client.get("/staff/inventory/").status_code == 403


def test_a_customer_sees_only_their_own_proxies(client, alice, customer_b):
    mine = ResourceFactory(customer=alice.customer, label="alicetok")
    theirs = ResourceFactory(customer=customer_b, label="bobtoken")
    client.force_login(alice)
    home = client.get("/portal/").content.decode()
    assert "alicetok" in home and "bobtoken" not in home
    assert "11.57 GB of 100.00 GB (12%)" in home
    assert client.get(f"/portal/proxies/{mine.pk}/").status_code == 200
    assert client.get(f"/portal/proxies/{theirs.pk}/").status_code == 404


def test_the_portal_shows_how_to_connect(client, alice):
    resource = ResourceFactory(customer=alice.customer, label="alicetok")
    shop = ResourceFactory(customer=alice.customer, kind=SHOP_SUBSCRIPTION, label="NL private", upstream=SHOP_UPSTREAM)
    client.force_login(alice)
    page = client.get(f"/portal/proxies/{resource.pk}/").content.decode()
    assert "alicetok" in page and "bkXBberMQ7" in page and "us-s, gb-r" in page
    page = client.get(f"/portal/proxies/{shop.pk}/").content.decode()
    assert "http://u_6k8s9d:p_2n4m6q@proxy.example.com:12001" in page
    assert "NL-AMS Amsterdam" in page


def test_phone_connections_stay_with_staff(client, alice):
    connection = ResourceFactory(customer=alice.customer, kind=IPROXY_CONNECTION, upstream={})
    client.force_login(alice)
    assert client.get(f"/portal/proxies/{connection.pk}/").status_code == 404


def streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_a_customer_exports_their_proxies(client, alice, customer_b):
    ResourceFactory(customer=alice.customer, label="alicetok")
    ResourceFactory(customer=alice.customer, label="=cmd|evil", status="vanished")
    ResourceFactory(customer=customer_b, label="bobtoken")
    client.force_login(alice)
    text = client.get("/portal/proxies/export.txt")
    assert text["Content-Disposition"].startswith('attachment; filename="proxies-')
    assert streamed(text) == "resi.unknownproxies.com:8080:alicetok:bkXBberMQ7\n"
    rows = list(csv.reader(io.StringIO(streamed(client.get("/portal/proxies/export.csv")))))
    assert rows[0][:3] == ["id", "kind", "label"]
    assert [row[2] for row in rows[1:]] == ["alicetok"]
    assert rows[1][7] == "resi.unknownproxies.com:8080:alicetok:bkXBberMQ7"
    assert client.get("/portal/proxies/export.xlsx").status_code == 404


def test_csv_cells_cannot_smuggle_formulas(client, alice):
    ResourceFactory(customer=alice.customer, label="=HYPERLINK(1)")
    client.force_login(alice)
    rows = list(csv.reader(io.StringIO(streamed(client.get("/portal/proxies/export.csv")))))
    assert rows[1][2] == "'=HYPERLINK(1)"


def test_the_dashboard_counts_stock_and_what_expires_soon(client, support, customer_a):
    import datetime as dt

    from django.utils import timezone

    soon = ResourceFactory(customer=customer_a, label="soontok", expires_at=timezone.now() + dt.timedelta(days=2))
    ResourceFactory(label="latertok", expires_at=timezone.now() + dt.timedelta(days=40))
    ResourceFactory(label="gonetok", status="vanished")
    client.force_login(support)
    response = client.get("/staff/")
    assert response.context["inventory"]["live"] == 2
    assert response.context["inventory"]["unassigned"] == 1
    assert response.context["inventory"]["expiring_soon"] == 1
    assert list(response.context["expiring"]) == [soon]
    assert b"soontok" in response.content


def test_the_inventory_pages_keep_their_filters(client, support, customer_a):
    for _ in range(55):
        ResourceFactory(customer=customer_a)
    ResourceFactory(label="stocktok")
    client.force_login(support)
    first = client.get("/staff/inventory/", {"customer": str(customer_a.pk)})
    assert "55 resources" in first.content.decode()
    assert len(first.context["page"].object_list) == 50
    next_link = re.search(r'href="\?([^"]*after=[^"]*)" rel="next"', first.content.decode()).group(1)
    assert next_link.startswith(f"customer={customer_a.pk}&amp;")
    second = client.get(f"/staff/inventory/?{html.unescape(next_link)}")
    assert [r.customer_id for r in second.context["page"].object_list] == [customer_a.pk] * 5
    assert not second.context["page"].has_next

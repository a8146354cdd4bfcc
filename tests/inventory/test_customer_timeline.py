"""The customer timeline on the staff customer page: orders, money, alerts and actions on the customer or its
resources, one newest-first list that pages by keyset without losing or repeating a row."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import pytest
from django.utils import timezone

from billing.models import Order, Product
from billing.services import balance_top_up
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_PLAN
from inventory.assignment import resource_assign
from inventory.models import Alert
from ops import audit
from ops.models import AuditEvent
from tests.factories import ProviderAccountFactory, ResourceFactory

pytestmark = pytest.mark.django_db


def timeline(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode().split('aria-label="Timeline"', 1)[1].split("</ol>", 1)[0])


@pytest.fixture
def history(owner, support, customer_a, customer_b):
    """A little of everything for alice's customer, and something for bob's that must not show."""
    account = ProviderAccountFactory(kind=PROXY_SHOP)
    product = Product.objects.create(
        name="Amsterdam 30 days",
        kind=SHOP_PLAN,
        account=account,
        parameters={},
        price_cents=2000,
        renewal_price_cents=1800,
    )
    balance_top_up(customer=customer_a, amount_cents=5000, actor=support, note="bank transfer 42")
    Order.objects.create(customer=customer_a, product=product, price_cents=2000, idempotency_key=uuid.uuid4().hex)
    resource = ResourceFactory(label="alicetok")
    resource_assign(resource=resource, customer=customer_a, actor=support)
    # An upstream action recorded on the resource without naming the customer (as some integrations do).
    audit.record(action="inventory.iproxy.reboot", actor=owner, target=resource, data={})
    Alert.objects.create(
        kind="expiry",
        subject=f"resource:{resource.pk}",
        threshold="3d",
        cycle="c",
        message="alicetok expires soon",
        resource=resource,
        customer=customer_a,
    )
    balance_top_up(customer=customer_b, amount_cents=700, actor=support, note="bob's transfer")
    audit.record(action="customer.update", actor=owner, customer=customer_b, data={"notes": "bob only"})
    return resource


def test_the_customer_page_shows_one_timeline_of_everything(client, support, customer_a, history):
    client.force_login(support)
    items = timeline(client.get(f"/staff/customers/{customer_a.pk}/"))
    assert "Top-up 50.00" in items
    assert "bank transfer 42" in items
    assert "Order " in items and "Amsterdam 30 days" in items
    assert "inventory.assign" in items
    assert "inventory.iproxy.reboot" in items
    assert "alicetok expires soon" in items
    assert "bob" not in items
    assert "billing.ledger" not in items  # the ledger row stands for its own audit copy


def test_the_timeline_is_in_time_order_newest_first(client, support, customer_a, history):
    client.force_login(support)
    times = re.findall(r'<time datetime="([^"]+)"', timeline(client.get(f"/staff/customers/{customer_a.pk}/")))
    assert len(times) == 5  # top-up, order, assignment, reboot, alert
    moments = [dt.datetime.fromisoformat(moment) for moment in times]
    assert moments == sorted(moments, reverse=True)


def test_it_pages_through_a_long_history_without_losing_or_repeating(client, support, customer_a):
    moment = timezone.now() - dt.timedelta(hours=1)
    for number in range(30):
        Alert.objects.create(
            kind="usage",
            subject="resource:1",
            threshold=f"{number}%",
            cycle="c",
            message=f"money {number:02d}",
            customer=customer_a,
        )
        audit.record(action=f"test.action_{number:02d}", customer=customer_a)
        balance_top_up(customer=customer_a, amount_cents=100 + number, actor=None, note=f"credit {number:02d}")
    # Alerts and actions all at one instant: ties are broken by table and id.
    Alert.objects.filter(customer=customer_a).update(created_at=moment)
    AuditEvent.objects.filter(action__startswith="test.action_").update(created_at=moment)
    client.force_login(support)
    seen, url = [], f"/staff/customers/{customer_a.pk}/"
    while url:
        response = client.get(url)
        seen += re.findall(r"(money \d\d|test\.action_\d\d|credit \d\d)", timeline(response))
        found = re.search(r'<a href="([^"]+)">Older', response.content.decode())
        url = html.unescape(found.group(1)) if found else None
    assert len(seen) == 90
    assert len(set(seen)) == 90


def test_customers_cannot_see_a_timeline(client, alice, customer_a, history):
    client.force_login(alice)
    assert client.get(f"/staff/customers/{customer_a.pk}/timeline/").status_code == 403


def test_an_unknown_customer_is_a_404(client, support):
    client.force_login(support)
    assert client.get("/staff/customers/987654/timeline/").status_code == 404


def test_a_nonsense_cursor_shows_the_newest_page(client, support, customer_a, history):
    client.force_login(support)
    response = client.get(f"/staff/customers/{customer_a.pk}/timeline/?before=garbage")
    assert "alicetok expires soon" in timeline(response)

"""Every customer API endpoint through the test client with a key: success, validation, other customers' 404s."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from api.models import IdempotentRequest
from billing import services
from billing.models import Order
from inventory import presenters
from inventory.models import Resource, ResourceStatus, UsageSample
from inventory.sync import sync_account
from ops.units import GB
from providers import registry
from tests.factories import ResourceFactory

PROBLEM = "application/problem+json"


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


@pytest.fixture
def alices_proxies(alice):
    return [
        ResourceFactory(customer=alice.customer, label="alpha01"),
        ResourceFactory(customer=alice.customer, label="beta0002", status=ResourceStatus.EXPIRED),
        ResourceFactory(customer=alice.customer, label="gamma003"),
    ]


@pytest.fixture
def bobs_proxy(bob):
    return ResourceFactory(customer=bob.customer, label="bobsown1")


# Proxies -------------------------------------------------------------------------------------------------


def test_it_lists_only_my_proxies(alice_reader, alices_proxies, bobs_proxy):
    body = alice_reader.get("/api/proxies").json()
    assert [item["id"] for item in body["items"]] == [r.pk for r in alices_proxies]
    assert body["next_cursor"] is None
    first = body["items"][0]
    assert first["label"] == "alpha01" and first["kind_label"] and first["data_limit_bytes"] == 100_000_000_000


def test_it_filters_and_searches(alice_reader, alices_proxies):
    expired = alice_reader.get("/api/proxies", {"status": "expired"}).json()["items"]
    assert [item["label"] for item in expired] == ["beta0002"]
    assert [item["label"] for item in alice_reader.get("/api/proxies", {"search": "GAMMA"}).json()["items"]] == [
        "gamma003"
    ]
    kind = alices_proxies[0].kind
    assert len(alice_reader.get("/api/proxies", {"kind": kind}).json()["items"]) == 3
    problem(alice_reader.get("/api/proxies", {"status": "sleeping"}), 422)
    problem(alice_reader.get("/api/proxies", {"kind": "nothing"}), 422)


def test_it_pages_with_an_opaque_cursor(alice_reader, alices_proxies):
    seen, cursor = [], ""
    while True:
        body = alice_reader.get("/api/proxies", {"limit": 2, "cursor": cursor}).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert str(alices_proxies[0].pk) != cursor  # opaque, not the id itself
    assert seen == [r.pk for r in alices_proxies]
    problem(alice_reader.get("/api/proxies", {"cursor": "not-a-cursor!"}), 400)
    problem(alice_reader.get("/api/proxies", {"limit": 0}), 422)


def test_one_proxy_has_its_credentials(alice_reader, alices_proxies):
    resource = alices_proxies[0]
    body = alice_reader.get(f"/api/proxies/{resource.pk}").json()
    assert body["id"] == resource.pk
    assert body["proxy_lines"] == presenters.proxy_lines(resource)
    assert {c["label"]: c["value"] for c in body["credentials"]} == {
        c.label: c.value for c in resource.integration.credentials(resource)
    }


def test_a_wrong_method_is_a_405_problem_that_says_what_is_allowed(alice_writer, alices_proxies):
    body = problem(alice_writer.delete("/api/proxies"), 405)
    assert "DELETE" in body["detail"] and "GET" in body["detail"]
    assert "GET" in alice_writer.delete("/api/proxies")["Allow"]
    # The right method on the same path still answers as before.
    assert alice_writer.get("/api/proxies").status_code == 200


def test_another_customers_proxy_is_a_404(alice_reader, bobs_proxy):
    for path in (f"/api/proxies/{bobs_proxy.pk}", f"/api/proxies/{bobs_proxy.pk}/usage"):
        problem(alice_reader.get(path), 404)
    problem(alice_reader.get("/api/proxies/999999"), 404)


def body(response) -> str:
    return b"".join(response.streaming_content if response.streaming else [response.content]).decode()


def test_it_exports_in_every_portal_format(client, alice, alice_reader, alices_proxies, bobs_proxy):
    from inventory import presenters

    client.force_login(alice)
    for key, export_format in presenters.EXPORT_FORMATS.items():
        response = alice_reader.get("/api/proxies/export", {"format": key})
        assert response.status_code == 200 and response["Content-Type"] == export_format.content_type
        exported = body(response)
        # The same lines as the portal's download of the same format (the order may differ).
        assert sorted(exported.splitlines()) == sorted(body(client.get(f"/portal/proxies/export.{key}")).splitlines())
        assert "bobsown1" not in exported
    assert "alpha01" in body(alice_reader.get("/api/proxies/export", {"format": "txt"}))
    rows = list(csv.reader(io.StringIO(body(alice_reader.get("/api/proxies/export", {"format": "csv"})))))
    assert len(rows) == 4
    problem(alice_reader.get("/api/proxies/export", {"format": "xlsx"}), 422)


def test_it_shows_usage(alice_reader, alices_proxies, bobs_proxy):
    usage = alice_reader.get("/api/usage").json()
    assert [u["id"] for u in usage] == [r.pk for r in alices_proxies]
    assert usage[0]["data_used_bytes"] == 11_574_848_653 and usage[0]["usage_fraction"] == pytest.approx(0.1157, 1e-3)
    assert alice_reader.get(f"/api/proxies/{alices_proxies[0].pk}/usage").json()["id"] == alices_proxies[0].pk


def test_it_shows_the_usage_history_with_its_projection(alice_reader, alices_proxies, bobs_proxy):
    token = alices_proxies[0]
    now = timezone.now()
    used, limit = token.data_used_bytes, token.data_limit_bytes
    UsageSample.objects.bulk_create(
        [
            UsageSample(resource=token, at=now - dt.timedelta(days=40), bytes_used=1, bytes_limit=limit),
            UsageSample(resource=token, at=now - dt.timedelta(days=2), bytes_used=used - GB, bytes_limit=limit),
            UsageSample(resource=token, at=now - dt.timedelta(hours=1), bytes_used=used, bytes_limit=limit),
        ]
    )
    body = alice_reader.get(f"/api/proxies/{token.pk}/usage/history").json()
    assert [sample["bytes_used"] for sample in body["samples"]] == [used - GB, used]  # the last 30 days, oldest first
    assert body["bytes_per_day"] > 0 and body["runs_out_at"] is not None
    week = alice_reader.get(f"/api/proxies/{token.pk}/usage/history?days=365").json()
    assert len(week["samples"]) == 3
    problem(alice_reader.get(f"/api/proxies/{token.pk}/usage/history?days=0"), 422)
    problem(alice_reader.get(f"/api/proxies/{bobs_proxy.pk}/usage/history"), 404)


# Money ---------------------------------------------------------------------------------------------------


def buy(client, product, key="order-1", **body):
    return client.post(
        "/api/orders", {"product_id": product.pk, **body}, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


def answered(response, order: Order) -> dict:
    order.refresh_from_db()
    assert response.status_code == (200 if order.is_settled else 202)
    body = response.json()
    assert body["id"] == order.pk and body["state"] == order.state
    return body


def test_it_shows_balance_ledger_and_products(alice_reader, funded, shop_product):
    assert alice_reader.get("/api/balance").json() == {"balance_cents": 5000, "currency": "USD", "balance": "50.00 USD"}
    ledger = alice_reader.get("/api/ledger").json()
    assert [(e["kind"], e["amount_cents"]) for e in ledger["items"]] == [("top_up", 5000)]
    products = alice_reader.get("/api/products").json()
    assert [(p["id"], p["price_cents"]) for p in products] == [(shop_product.pk, 2000)]
    assert "cost_cents" not in products[0]


def test_it_buys_through_the_portals_order_path(sandbox, alice_writer, funded, shop_product):
    response = buy(alice_writer, shop_product, expected_price_cents=2000)
    order = Order.objects.get()
    body = answered(response, order)
    assert body["product_id"] == shop_product.pk and body["price_cents"] == 2000
    assert services.customer_balance(customer=funded) == 3000
    listed = alice_writer.get("/api/orders").json()["items"]
    assert [o["id"] for o in listed] == [order.pk]
    assert alice_writer.get(f"/api/orders/{order.pk}").json()["id"] == order.pk


def test_the_same_key_and_body_give_the_same_order(sandbox, alice_writer, funded, shop_product):
    first = buy(alice_writer, shop_product, key="same")
    second = buy(alice_writer, shop_product, key="same")
    assert first.json()["id"] == second.json()["id"]
    assert Order.objects.count() == 1
    assert services.customer_balance(customer=funded) == 3000


def test_the_same_key_with_another_body_is_a_422(sandbox, alice_writer, funded, shop_product, resi_product):
    buy(alice_writer, shop_product, key="same")
    body = problem(buy(alice_writer, resi_product, key="same"), 422)
    assert "Idempotency-Key" in body["detail"]
    problem(buy(alice_writer, shop_product, key="same", coupon="SPRING"), 422)
    assert Order.objects.count() == 1


def test_two_customers_may_use_the_same_idempotency_key(
    sandbox, alice_writer, bob_writer, bob, funded, shop_product, owner
):
    services.balance_top_up(customer=bob.customer, amount_cents=5000, actor=owner)
    a = buy(alice_writer, shop_product, key="k")
    b = buy(bob_writer, shop_product, key="k")
    assert a.json()["id"] != b.json()["id"]
    assert {o.customer_id for o in Order.objects.all()} == {funded.pk, bob.customer.pk}
    assert IdempotentRequest.objects.count() == 2


def test_buying_needs_an_idempotency_key(alice_writer, funded, shop_product):
    response = alice_writer.post("/api/orders", {"product_id": shop_product.pk}, content_type="application/json")
    body = problem(response, 422)
    assert any("idempotency" in e["field"].lower() for e in body["errors"])


def test_buying_refusals_are_problems(sandbox, alice_writer, customer_a, funded, shop_product):
    problem(buy(alice_writer, shop_product, key="price", expected_price_cents=1), 409)
    shop_product.price_cents = 999_00
    shop_product.save()
    assert "balance" in problem(buy(alice_writer, shop_product, key="poor"), 409)["detail"].lower()
    problem(buy(alice_writer, shop_product.__class__(pk=987654), key="nothing"), 404)
    problem(alice_writer.post("/api/orders", {"product_id": "x"}, content_type="application/json"), 422)
    problem(alice_writer.post("/api/orders", "{", content_type="application/json", HTTP_IDEMPOTENCY_KEY="b"), 400)
    assert not Order.objects.exists()
    # A refused request leaves its key free: corrected, it may be sent again with the same key.
    shop_product.price_cents = 2000
    shop_product.save()
    assert buy(alice_writer, shop_product, key="poor").json()["price_cents"] == 2000


def test_it_renews_my_proxy(sandbox, alice_writer, funded, shop_product):
    answered(buy(alice_writer, shop_product), Order.objects.get())
    resource_id = Order.objects.get().resource_id
    assert resource_id is not None
    renew = alice_writer.post(
        f"/api/proxies/{resource_id}/renew", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="renew-1"
    )
    renewal = Order.objects.get(kind="renewal")
    assert answered(renew, renewal)["resource_id"] == resource_id
    again = alice_writer.post(
        f"/api/proxies/{resource_id}/renew", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="renew-1"
    )
    assert again.json()["id"] == renewal.pk and Order.objects.count() == 2


def test_another_customers_order_and_proxy_are_404s(sandbox, alice_writer, bob_writer, funded, shop_product):
    buy(alice_writer, shop_product)
    order = Order.objects.get()
    problem(bob_writer.get(f"/api/orders/{order.pk}"), 404)
    renew = bob_writer.post(
        f"/api/proxies/{order.resource_id}/renew", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="r"
    )
    problem(renew, 404)
    assert bob_writer.get("/api/orders").json()["items"] == []
    assert bob_writer.get("/api/ledger").json()["items"] == []


# Self-service actions ------------------------------------------------------------------------------------


@pytest.fixture
def shop_subscription(sandbox, alice, shop_account):
    sync_account(account=shop_account)
    resource = Resource.objects.get(account=shop_account, upstream_id="subnlrotating")
    resource.customer = alice.customer
    resource.save(update_fields=["customer"])
    return resource


def test_it_lists_and_runs_the_portals_actions(alice_writer, shop_subscription):
    names = [a["name"] for a in alice_writer.get(f"/api/proxies/{shop_subscription.pk}/actions").json()]
    assert names == [a.name for a in registry.self_service_actions(shop_subscription.kind)]
    before = shop_subscription.upstream["currentIp"]
    response = alice_writer.post(f"/api/proxies/{shop_subscription.pk}/actions/rotate-now")
    assert response.status_code == 200, response.content
    body = response.json()
    shop_subscription.refresh_from_db()
    assert shop_subscription.upstream["currentIp"] != before
    assert body["status"] == "done" and shop_subscription.upstream["currentIp"] in body["message"]


def test_an_actions_input_is_checked_by_the_integrations_rules(alice_writer, shop_subscription):
    url = f"/api/proxies/{shop_subscription.pk}/actions/rotation-policy"
    body = problem(alice_writer.post(url, {"minutes": 7}, content_type="application/json"), 422)
    assert body["errors"][0]["field"] == "minutes"
    problem(alice_writer.post(url, {}, content_type="application/json"), 422)
    response = alice_writer.post(url, {"minutes": 10}, content_type="application/json")
    assert response.status_code == 200 and "10 minutes" in response.json()["message"]


def test_actions_of_another_kind_or_customer_are_404s(alice_writer, bob_writer, shop_subscription, alices_proxies):
    problem(bob_writer.post(f"/api/proxies/{shop_subscription.pk}/actions/rotate-now"), 404)
    problem(bob_writer.get(f"/api/proxies/{shop_subscription.pk}/actions"), 404)
    # A residential token has no "rotate now".
    problem(alice_writer.post(f"/api/proxies/{alices_proxies[0].pk}/actions/rotate-now"), 404)


def test_a_read_only_key_cannot_run_actions(alice_reader, shop_subscription):
    before = shop_subscription.upstream["currentIp"]
    problem(alice_reader.post(f"/api/proxies/{shop_subscription.pk}/actions/rotate-now"), 403)
    shop_subscription.refresh_from_db()
    assert shop_subscription.upstream["currentIp"] == before


def test_a_provider_refusal_is_a_409_problem(alice_writer, shop_subscription, sandbox):
    sandbox.control(
        "faults", {"rules": [{"provider": "shop", "match": "POST", "kind": "status", "status": 409, "times": 5}]}
    )
    body = problem(alice_writer.post(f"/api/proxies/{shop_subscription.pk}/actions/new-credentials"), 409)
    assert body["detail"].startswith("The provider refused the change:")

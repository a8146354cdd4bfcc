"""API keys: shown once, stored hashed, revoked at once; read-only keys cannot write; rate limited per key."""

from __future__ import annotations

import hashlib

import pytest
from django.test import override_settings

from accounts.api_keys import api_key_create, api_key_revoke
from accounts.models import ApiKey, Customer
from ops.models import AuditEvent
from tests.api.conftest import KeyClient

PROBLEM = "application/problem+json"


def test_it_stores_only_a_hash_of_the_key(alice):
    key, raw = api_key_create(user=alice, name="billing script", can_write=False, actor=alice)
    prefix, secret = raw.split(".")
    assert key.prefix == prefix and key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    assert len(secret) >= 40
    assert AuditEvent.objects.get(action="accounts.api_key.create").data == {
        "name": "billing script",
        "prefix": prefix,
        "can_write": False,
    }


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer nope", "Bearer prx_000000000000.wrong", "Basic YWxpY2U6cGFzcw=="]
)
def test_it_answers_401_problem_without_a_live_key(client, alice, header):
    api_key_create(user=alice, name="x", can_write=False, actor=alice)
    response = client.get("/api/proxies", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == 401 and body["title"] == "Unauthorized" and body["type"] == "about:blank"
    assert "Bearer" in response["WWW-Authenticate"]


def test_a_wrong_secret_with_a_real_prefix_is_refused(alice):
    key, raw = api_key_create(user=alice, name="x", can_write=False, actor=alice)
    assert KeyClient(f"{key.prefix}.{'A' * 43}").get("/api/balance").status_code == 401
    assert KeyClient(raw).get("/api/balance").status_code == 200


def test_a_revoked_key_stops_at_once(alice):
    key, raw = api_key_create(user=alice, name="x", can_write=True, actor=alice)
    client = KeyClient(raw)
    assert client.get("/api/balance").status_code == 200
    api_key_revoke(key=key, actor=alice)
    response = client.get("/api/balance")
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM


def test_a_suspended_customers_keys_stop(alice, alice_reader):
    alice.customer.status = Customer.Status.SUSPENDED
    alice.customer.save()
    assert alice_reader.get("/api/balance").status_code == 401


def test_a_staff_login_gets_no_key(owner):
    from accounts.api_keys import ApiKeyError

    with pytest.raises(ApiKeyError):
        api_key_create(user=owner, name="x", can_write=True, actor=owner)


def test_a_read_only_key_gets_403_on_writes(alice_reader):
    response = alice_reader.post(
        "/api/orders", {"product_id": 1}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 403 and response["Content-Type"] == PROBLEM
    assert "read-only" in response.json()["detail"]


@override_settings(API_RATE_LIMIT_PER_MINUTE=3)
def test_it_rate_limits_per_key_with_retry_after(alice, alice_reader, alice_writer):
    assert [alice_reader.get("/api/balance").status_code for _ in range(3)] == [200, 200, 200]
    response = alice_reader.get("/api/balance")
    assert response.status_code == 429 and response["Content-Type"] == PROBLEM
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["status"] == 429
    # Another key of the same login has its own allowance.
    assert alice_writer.get("/api/balance").status_code == 200


def test_it_records_when_a_key_was_last_used(alice):
    key, raw = api_key_create(user=alice, name="x", can_write=False, actor=alice)
    assert key.last_used_at is None
    KeyClient(raw).get("/api/balance")
    key.refresh_from_db()
    assert key.last_used_at is not None


# The portal page ----------------------------------------------------------------------------------------


def test_a_customer_creates_a_key_and_sees_it_once(client, alice):
    client.force_login(alice)
    response = client.post("/portal/api-keys/", {"name": "reporting", "access": "write"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(user=alice)
    assert key.name == "reporting" and key.can_write
    page = response.content.decode()
    start = page.index(key.prefix + ".")
    raw = page[start : page.index("<", start)]
    assert KeyClient(raw).get("/api/balance").status_code == 200
    listing = client.get("/portal/api-keys/").content.decode()
    assert key.prefix in listing and raw not in listing


def test_a_key_needs_a_name(client, alice):
    client.force_login(alice)
    response = client.post("/portal/api-keys/", {"name": "", "access": "read"})
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_a_customer_revokes_their_key(client, alice):
    key, raw = api_key_create(user=alice, name="old", can_write=False, actor=alice)
    client.force_login(alice)
    response = client.post(f"/portal/api-keys/{key.pk}/revoke/", follow=True)
    assert "revoked" in response.content.decode()
    assert KeyClient(raw).get("/api/balance").status_code == 401
    assert AuditEvent.objects.filter(action="accounts.api_key.revoke", actor=alice).exists()


def test_a_customer_cannot_revoke_another_customers_key(client, alice, bob):
    key, raw = api_key_create(user=bob, name="bob's", can_write=False, actor=bob)
    client.force_login(alice)
    assert client.post(f"/portal/api-keys/{key.pk}/revoke/").status_code == 404
    assert KeyClient(raw).get("/api/balance").status_code == 200


def test_staff_cannot_open_the_api_keys_page(client, owner):
    client.force_login(owner)
    assert client.get("/portal/api-keys/").status_code == 403


def test_a_portal_session_is_not_an_api_key(client, alice):
    """Only the key authenticates: a signed-in browser cannot be made to call the API (no CSRF surface)."""
    client.force_login(alice)
    assert client.get("/api/balance").status_code == 401


def test_a_key_needs_no_csrf_token(alice, funded, shop_product, sandbox):
    _, raw = api_key_create(user=alice, name="x", can_write=True, actor=alice)
    client = KeyClient(raw, enforce_csrf_checks=True)
    response = client.post(
        "/api/orders", {"product_id": shop_product.pk}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="c1"
    )
    assert response.status_code in (200, 202), response.content


def test_an_owner_revokes_a_leaked_key_in_the_admin(client, owner, alice):
    key, raw = api_key_create(user=alice, name="leaked", can_write=True, actor=alice)
    client.force_login(owner)
    assert key.prefix in client.get("/admin/accounts/apikey/").content.decode()
    assert key.key_hash not in client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert KeyClient(raw).get("/api/balance").status_code == 401
    assert AuditEvent.objects.filter(action="accounts.api_key.revoke", actor=owner).exists()

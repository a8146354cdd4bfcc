"""Provider accounts: secrets encrypted at rest and write-only; owners manage, support only checks."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from ops.models import AuditEvent
from providers import crypto, registry, services
from providers.http.errors import AuthenticationError, UnknownOutcomeError
from providers.models import ProviderAccount
from tests.factories import ProviderAccountFactory


def stored_secret_column(account) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM providers_provideraccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_it_stores_the_secret_encrypted(db):
    account = ProviderAccountFactory(kind="shop", secret="rk_live_very_secret")
    assert "rk_live_very_secret" not in stored_secret_column(account)
    assert ProviderAccount.objects.get(pk=account.pk).secret == "rk_live_very_secret"


def test_it_never_shows_the_secret_in_repr_or_str(db):
    account = ProviderAccountFactory(kind="shop", secret="rk_live_very_secret")
    assert "rk_live_very_secret" not in repr(account) + str(account)


def test_it_reads_old_secrets_after_a_key_rotation_and_reencrypts_them(db, settings):
    account = ProviderAccountFactory(kind="shop", secret="rk_rotate_me")
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *old_keys]
    assert ProviderAccount.objects.get(pk=account.pk).secret == "rk_rotate_me"
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert ProviderAccount.objects.get(pk=account.pk).secret == "rk_rotate_me"


def test_it_says_clearly_when_no_key_can_decrypt_a_secret(db, settings):
    account = ProviderAccountFactory(kind="shop")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretUnreadable, match="put back the key"):
        _ = ProviderAccount.objects.get(pk=account.pk).secret


@pytest.mark.parametrize("kind", ["unknownproxies", "shop", "iproxy"])
def test_a_check_reaches_each_provider_with_the_stored_credentials(db, sandbox, kind):
    account = ProviderAccountFactory(kind=kind)
    result = services.provider_account_check(account=account)
    assert result.ok, result.message
    account.refresh_from_db()
    assert account.last_checked_at is not None
    assert account.last_error == ""
    assert AuditEvent.objects.filter(action="provider_account.check", target_id=str(account.pk)).exists()


def test_a_failed_check_is_recorded_on_the_account(db, sandbox):
    account = ProviderAccountFactory(kind="shop", secret="rk_wrong")
    result = services.provider_account_check(account=account)
    assert not result.ok
    account.refresh_from_db()
    assert "401" in account.last_error
    assert "rk_wrong" not in account.last_error


def test_rotating_the_iproxy_key_stores_the_new_key_in_the_same_step(db, sandbox, owner):
    account = ProviderAccountFactory(kind="iproxy")
    services.provider_api_key_rotate(account=account, actor=owner)
    account.refresh_from_db()
    assert account.secret != "sandbox-key"
    assert services.provider_account_check(account=account).ok
    stale = ProviderAccountFactory(kind="iproxy", secret="sandbox-key")
    with pytest.raises(AuthenticationError):
        registry.client_for_account(stale).me()
    event = AuditEvent.objects.get(action="provider_account.api_key_rotate")
    assert account.secret not in str(event.data)


def test_a_lost_answer_while_rotating_keeps_a_note_for_the_owner(db, sandbox, owner):
    account = ProviderAccountFactory(kind="iproxy")
    sandbox.control("faults", {"rules": [{"provider": "iproxy", "match": "POST /me/api-key", "kind": "lost_response"}]})
    with pytest.raises(UnknownOutcomeError):
        services.provider_api_key_rotate(account=account, actor=owner)
    account.refresh_from_db()
    assert "create a key in the iProxy console" in account.last_error
    assert AuditEvent.objects.filter(action="provider_account.api_key_rotate_unknown").exists()


# Pages -------------------------------------------------------------------------


def test_the_owner_adds_an_account_and_the_secret_is_never_rendered_back(client, owner):
    client.force_login(owner)
    response = client.post(
        "/staff/providers/new/",
        {
            "name": "Shop",
            "kind": "shop",
            "base_url": "https://shop.example.com",
            "secret": "rk_typed_once",
            "low_balance_threshold_cents": "500",
        },
    )
    assert response.status_code == 302
    account = ProviderAccount.objects.get(name="Shop")
    assert account.secret == "rk_typed_once"
    edit_page = client.get(f"/staff/providers/{account.pk}/edit/").content.decode()
    assert "rk_typed_once" not in edit_page
    assert "A secret is stored" in edit_page
    event = AuditEvent.objects.get(action="provider_account.create")
    assert "rk_typed_once" not in str(event.data)


def test_editing_without_a_secret_keeps_the_stored_one(client, owner, db):
    account = ProviderAccountFactory(kind="shop", secret="rk_keep_me")
    client.force_login(owner)
    response = client.post(
        f"/staff/providers/{account.pk}/edit/",
        {
            "name": "Renamed",
            "kind": "shop",
            "base_url": account.base_url,
            "secret": "",
            "enabled": "on",
            "low_balance_threshold_cents": "0",
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "Renamed"
    assert account.secret == "rk_keep_me"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "shop", "base_url": "https://x.example.com"}, "secret", "Enter the password or API key"),
        ({"kind": "unknownproxies", "base_url": "https://x.example.com", "secret": "p"}, "username", "needs the Basic"),
        ({"kind": "shop", "base_url": "https://x.example.com", "secret": "k", "username": "u"}, "username", "Only"),
        ({"kind": "shop", "base_url": "not a url", "secret": "k"}, "base_url", "Enter a valid URL"),
    ],
)
def test_the_form_explains_bad_input(client, owner, data, field, message):
    client.force_login(owner)
    response = client.post("/staff/providers/new/", {"name": "X", **data})
    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    assert not ProviderAccount.objects.exists()


def test_support_sees_account_health_but_cannot_edit_or_see_secrets(client, support, db):
    account = ProviderAccountFactory(kind="shop", secret="rk_support_must_not_see")
    client.force_login(support)
    page = client.get("/staff/providers/")
    assert page.status_code == 200
    assert account.name.encode() in page.content
    assert b"rk_support_must_not_see" not in page.content
    assert b"/edit/" not in page.content
    assert client.get(f"/staff/providers/{account.pk}/edit/").status_code == 403
    assert client.get("/staff/providers/new/").status_code == 403
    assert client.post(f"/staff/providers/{account.pk}/rotate-key/").status_code == 403


def test_customers_cannot_reach_provider_pages(client, alice, db):
    client.force_login(alice)
    assert client.get("/staff/providers/").status_code == 403


def test_support_can_run_a_check(client, support, sandbox, db):
    account = ProviderAccountFactory(kind="unknownproxies")
    client.force_login(support)
    response = client.post(f"/staff/providers/{account.pk}/check/", follow=True)
    assert b"Connected: 8 residential pools." in response.content

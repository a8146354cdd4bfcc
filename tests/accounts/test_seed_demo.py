"""seed_demo builds the demo cast once, and never outside demo mode."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Customer, User
from providers.models import ProviderAccount


def test_it_creates_the_demo_logins_idempotently(db, settings, capsys):
    settings.DEMO_MODE = True
    call_command("seed_demo")
    call_command("seed_demo")
    assert set(User.objects.values_list("username", flat=True)) == {"owner", "support", "alice", "bob"}
    assert Customer.objects.count() == 2
    assert User.objects.get(username="alice").customer != User.objects.get(username="bob").customer
    assert User.objects.get(username="owner").check_password("demo-pass-1234")
    assert "demo-pass-1234" in capsys.readouterr().out


def test_it_refuses_to_run_outside_demo_mode(db, settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="only runs in demo mode"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_it_points_the_demo_provider_accounts_at_the_sandbox(db, settings):
    settings.DEMO_MODE = True
    settings.SANDBOX_URL = "http://127.0.0.1:8100"
    call_command("seed_demo")
    accounts = {account.kind: account for account in ProviderAccount.objects.all()}
    assert set(accounts) == {"unknownproxies", "shop", "iproxy"}
    assert accounts["shop"].base_url == "http://127.0.0.1:8100/shop"
    assert accounts["iproxy"].secret == "sandbox-key"
    settings.SANDBOX_URL = "http://127.0.0.1:9100"
    call_command("seed_demo")
    assert ProviderAccount.objects.count() == 3
    assert ProviderAccount.objects.get(kind="unknownproxies").base_url == "http://127.0.0.1:9100/unknownproxies/api/v1"


def test_it_stocks_the_demo_shop_and_credits_the_demo_customers_once(db, settings):
    from billing.models import Product
    from billing.services import customer_balance

    settings.DEMO_MODE = True
    call_command("seed_demo")
    call_command("seed_demo")
    from providers import registry

    demo_products = [product for integration in registry.all_integrations() for product in integration.demo_products()]
    assert len(demo_products) >= 4  # residential GB, ISP proxies, a shop plan, a port on our phones
    assert Product.objects.filter(active=True).count() == len(demo_products)
    alice = User.objects.get(username="alice").customer
    assert customer_balance(customer=alice) == 10_000


def test_demo_staff_get_an_authenticator_whose_code_demo_code_prints(client, db, settings, capsys):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.DEMO_MODE = True
    call_command("seed_demo")
    call_command("seed_demo")
    assert TOTPDevice.objects.filter(user__username="owner", confirmed=True).count() == 1
    assert TOTPDevice.objects.filter(user__username="support", confirmed=True).count() == 1
    assert "demo_code" in capsys.readouterr().out
    call_command("demo_code", "owner")
    code = capsys.readouterr().out.split()[1]
    client.post("/accounts/login/", {"username": "owner", "password": "demo-pass-1234"})
    assert client.get("/staff/").url.startswith("/accounts/2fa/verify/")
    client.post("/accounts/2fa/verify/", {"code": code})
    assert client.get("/staff/").status_code == 200


def test_demo_code_refuses_to_run_outside_demo_mode(db, settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="only runs in demo mode"):
        call_command("demo_code")

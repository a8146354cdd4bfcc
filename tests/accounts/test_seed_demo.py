"""seed_demo builds the demo cast once, and never outside demo mode."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Customer, User


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

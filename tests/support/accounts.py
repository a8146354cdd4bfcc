"""Provider accounts the tests start from."""

from __future__ import annotations

from typing import Any

from inventory.sync import sync_account
from providers.models import ProviderAccount
from tests.factories import ProviderAccountFactory


def synced_account(kind: str, **fields: Any) -> ProviderAccount:
    """An account of `kind` on the sandbox (the `sandbox` fixture active), synced once: its resources are mirrored."""
    account = ProviderAccountFactory(kind=kind, **fields)
    run = sync_account(account=account)
    assert run.outcome == "ok", run.error
    return account

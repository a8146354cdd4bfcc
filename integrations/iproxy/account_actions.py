"""Actions on the iProxy account itself: read the user info and balance, update the basic info, audited."""

from __future__ import annotations

from accounts.models import User
from integrations.iproxy import client as iproxy
from inventory.outcomes import recording_unknown_outcome
from ops import audit
from providers.models import ProviderAccount
from providers.registry import client_for_account

UNKNOWN_NOTE = "iProxy did not answer; the change may or may not have been applied; read the account again"


def account_info(*, account: ProviderAccount) -> iproxy.UserInfo:
    """Userinfo API 1: who the key belongs to and the account's balance (a read)."""
    return client_for_account(account).me()


def account_basic_info_update(
    *, account: ProviderAccount, actor: User | None, changes: dict[str, str]
) -> iproxy.UserBasicInfo:
    """Userinfo API 2: change the display name, Telegram handle and/or proxy prefix (only what changed)."""
    action = "iproxy.account.update_basic_info"
    client = client_for_account(account)
    with recording_unknown_outcome(
        action=action, actor=actor, target=account, customer=None, data={**changes, "outcome": UNKNOWN_NOTE}
    ):
        updated = client.update_basic_info(**changes)
    audit.record(action=action, actor=actor, target=account, data={"fields": sorted(changes), **changes})
    return updated

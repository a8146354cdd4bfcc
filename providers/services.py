"""Provider accounts: create, change, check and rotate keys; the one place that builds clients from accounts."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from ops import audit
from providers import crypto, registry
from providers.http import errors
from providers.models import ProviderAccount

EDITABLE_FIELDS = ("name", "kind", "base_url", "username", "enabled", "low_balance_threshold_cents")


@transaction.atomic
def provider_account_create(*, actor: User | None, secret: str, **fields) -> ProviderAccount:
    """Add an upstream account; the secret is encrypted before it is stored."""
    account = ProviderAccount(**{key: fields[key] for key in EDITABLE_FIELDS if key in fields})
    account.secret = secret
    account.full_clean()
    account.save()
    audit.record(action="provider_account.create", actor=actor, target=account, data=_audit_fields(fields))
    return account


@transaction.atomic
def provider_account_update(
    *, account: ProviderAccount, actor: User | None, secret: str = "", **changes
) -> ProviderAccount:
    """Change an account; an empty `secret` keeps the stored one (secrets are write-only)."""
    account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
    changed = {key: value for key, value in changes.items() if key in EDITABLE_FIELDS}
    for key, value in changed.items():
        setattr(account, key, value)
    if secret:
        account.secret = secret
    account.full_clean()
    account.save()
    data = _audit_fields(changed) | ({"secret": "changed"} if secret else {})
    audit.record(action="provider_account.update", actor=actor, target=account, data=data)
    return account


@dataclass(frozen=True)
class AccountCheck:
    ok: bool
    message: str
    balance_cents: int | None = None


def provider_account_check(*, account: ProviderAccount, actor: User | None = None) -> AccountCheck:
    """Make one cheap read upstream with the stored credentials and record the outcome on the account."""
    try:
        integration = registry.for_account(account)
        checked = integration.check(integration.client(account))
        result = AccountCheck(ok=True, message=checked.message, balance_cents=checked.balance_cents)
    except (errors.ProviderError, crypto.SecretUnreadable) as exc:
        result = AccountCheck(ok=False, message=str(exc))
    now = timezone.now()
    read = result.balance_cents is not None
    balance = {"balance_cents": result.balance_cents, "balance_read_at": now} if read else {}
    ProviderAccount.objects.filter(pk=account.pk).update(
        last_checked_at=now, last_error="" if result.ok else result.message, **balance
    )
    audit.record(
        action="provider_account.check", actor=actor, target=account, data={"ok": result.ok, "message": result.message}
    )
    return result


def provider_balance_read(*, account: ProviderAccount) -> int | None:
    """Read the account's upstream balance now and keep it on the account; None when it has none to read.

    Raises ProviderError (or SecretUnreadable) when the provider does not answer: the last reading stays.
    """
    integration = registry.for_account(account)
    if not integration.has_balance:
        return None
    balance_cents = integration.balance_cents(integration.client(account))
    if balance_cents is not None:
        now = timezone.now()
        ProviderAccount.objects.filter(pk=account.pk).update(balance_cents=balance_cents, balance_read_at=now)
        account.balance_cents, account.balance_read_at = balance_cents, now
    return balance_cents


def provider_api_key_rotate(*, account: ProviderAccount, actor: User | None) -> None:
    """Ask the provider for a new API key and store it in the same step: from then on the old key answers 401.

    The account row stays locked for the whole exchange so no other process uses or overwrites the key
    halfway. If the answer is lost the old key may already be dead: the error says what to do.
    """
    integration = registry.for_account(account)
    if not integration.rotatable_key:
        raise ValueError(f"{integration.label} accounts have no API key we can rotate")
    lost: errors.UnknownOutcomeError | None = None
    with transaction.atomic():
        locked = ProviderAccount.objects.select_for_update().get(pk=account.pk)
        try:
            new_key = integration.rotate_key(integration.client(locked))
        except errors.UnknownOutcomeError as exc:
            lost = exc
            locked.last_error = (
                f"{exc}. The key may have been replaced upstream: if checks now fail with 401, create a key "
                f"in the {integration.console_name or integration.label} console and paste it here."
            )
            locked.save(update_fields=["last_error", "updated_at"])
            audit.record(action="provider_account.api_key_rotate_unknown", actor=actor, target=locked)
        else:
            locked.secret = new_key
            locked.last_error = ""
            locked.save(update_fields=["secret_encrypted", "last_error", "updated_at"])
            audit.record(action="provider_account.api_key_rotate", actor=actor, target=locked)
    # Raised after the commit, so the note on the account and its audit row are kept.
    if lost is not None:
        raise lost


@transaction.atomic
def provider_secrets_reencrypt() -> int:
    """Re-encrypt every stored secret with the current (first) key; returns how many rows changed."""
    count = 0
    for account in ProviderAccount.objects.select_for_update().exclude(secret_encrypted=""):
        account.secret_encrypted = crypto.rotate(account.secret_encrypted)
        account.save(update_fields=["secret_encrypted"])
        count += 1
    if count:
        audit.record(action="provider_account.reencrypt", data={"accounts": count})
    return count


def _audit_fields(fields: dict) -> dict:
    return {key: fields[key] for key in EDITABLE_FIELDS if key in fields}

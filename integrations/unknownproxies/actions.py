"""Actions on Unknown Proxies tokens: create, modify or re-read a token upstream, mirror the answer, audit it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Customer, User
from integrations.unknownproxies import client as unknownproxies
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN
from integrations.unknownproxies.mirror import isp_token_row, resi_token_row
from inventory import assignment, mirror
from inventory import outcomes as common
from inventory.mirror import Row
from inventory.models import Resource, ResourceStatus
from ops import audit
from ops.units import GB
from providers import registry
from providers.http import errors
from providers.models import ProviderAccount
from providers.registry import client_for_account

UNKNOWN_OUTCOME_NOTE = (
    "the provider did not answer; the change may or may not have been applied; the next sync will show the truth"
)


def resi_token_create(
    *,
    account: ProviderAccount,
    actor: User | None,
    data_limit_gb: int,
    username: str | None = None,
    duration_hours: int = 0,
    customer: Customer | None = None,
) -> tuple[Resource, unknownproxies.ResiToken]:
    """Create a residential token for stock, or straight for `customer`; returns it with the typed answer.

    The provider generates the password and answers it once: the caller shows it from the typed token.
    The audit row keeps the limits and whether the username was chosen, never the credentials themselves.
    """
    username_source = "chosen" if username else "generated"
    data = {"data_limit_gb": data_limit_gb, "username": username_source, "duration_hours": duration_hours}
    action = "inventory.resi_token.create"
    client = client_for_account(account)
    with _recording_account_outcome(account, actor, action, data, customer):
        token = client.create_resi_token(
            data_limit=data_limit_gb * GB, username=username or None, duration_hours=duration_hours
        )
    resource = _created(account, actor, action, data, resi_token_row(token, timezone.now()), customer)
    return resource, token


def isp_token_create(
    *,
    account: ProviderAccount,
    actor: User | None,
    region: str,
    product: str,
    quantity: int,
    proxy_type: str,
    auth_type: str,
    duration_hours: int,
    customer: Customer | None = None,
) -> Resource:
    """Create an ISP token (README decision: POST /isp/token/create) for stock or for `customer`.

    The token starts `processing` and becomes `active` some minutes later; the sync (or a refresh) shows it.
    """
    data = {
        "region": region,
        "product": product,
        "quantity": quantity,
        "proxy_type": proxy_type,
        "auth_type": auth_type,
        "duration_hours": duration_hours,
    }
    action = "inventory.isp_token.create"
    client = client_for_account(account)
    with _recording_account_outcome(account, actor, action, data, customer):
        token = client.create_isp_token(region, product, quantity, proxy_type, auth_type, duration_hours)
    return _created(account, actor, action, data, isp_token_row(token, timezone.now()), customer)


def token_refresh(*, resource: Resource, actor: User | None) -> Resource:
    """Re-read one token upstream and write the mirror, as a sync would; a token gone upstream is marked so."""
    client = _client(resource)
    action = f"inventory.{resource.kind}.refresh"
    now = timezone.now()
    try:
        if resource.kind == RESI_TOKEN:
            row = resi_token_row(client.get_resi_token(resource.upstream_id), now)
        else:
            row = isp_token_row(client.get_isp_token(resource.upstream_id), now)
    except errors.NotFoundError:
        with transaction.atomic():
            mirror.mark_vanished(Resource.objects.filter(pk=resource.pk), now=now)
            audit.record(action=action, actor=actor, target=resource, customer=resource.customer, data={"found": False})
        resource.refresh_from_db()
        return resource
    with transaction.atomic():
        resource.vanished_at = None
        resource.save(update_fields=[*mirror.apply_row(resource, row, now=now, usage=True), "vanished_at"])
        audit.record(
            action=action,
            actor=actor,
            target=resource,
            customer=resource.customer,
            data={"found": True, "status": resource.status},
        )
    return resource


def resi_pools(*, resource: Resource) -> list[unknownproxies.Pool]:
    """The residential pools a token's allowedPools may name (a read, for the modify form's choices)."""
    return _client(resource).list_pools()


def resi_token_modify(
    *,
    resource: Resource,
    actor: User | None,
    data_limit: int | None = None,
    duration_hours: int | None = None,
    allowed_pools: list[str] | None = None,
) -> Resource:
    """Change a residential token's data limit (bytes), duration (hours) and/or pools (`[]` allows every pool).

    Staff only: customers buy more GB or time through the shop. An expired token may be modified, since
    raising a limit is how the provider revives it; a token gone upstream may not.
    """
    _refuse_unless_actionable(resource, RESI_TOKEN, allow_expired=True)
    changes = _present({"dataLimit": data_limit, "durationHours": duration_hours, "allowedPools": allowed_pools})
    client = _client(resource)
    with _recording_unknown_outcome(resource, actor, "inventory.resi_token.modify", changes):
        token = client.modify_resi_token(
            resource.upstream_id,
            data_limit=data_limit,
            duration_hours=duration_hours,
            allowed_pools=allowed_pools,
            current_data_limit=resource.data_limit_bytes,
        )
    return _record(resource, actor, "inventory.resi_token.modify", changes, resi_token_row(token, timezone.now()))


def isp_token_modify(
    *,
    resource: Resource,
    actor: User | None,
    auth_type: str | None = None,
    authenticated_ips: list[str] | None = None,
    proxy_type: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Resource:
    """Change an ISP token's authentication (ip whitelist or user/pass), protocol or credentials.

    Staff may change every field; the portal offers customers all but the username. Only an active
    token can be modified: the provider answers 409 for one still processing, and that error propagates.
    """
    _refuse_unless_actionable(resource, ISP_TOKEN)
    changes = _present(
        {
            "authType": auth_type,
            "authenticatedIps": authenticated_ips,
            "proxyType": proxy_type,
            "username": username,
            "password": password,
        }
    )
    client = _client(resource)
    with _recording_unknown_outcome(resource, actor, "inventory.isp_token.modify", changes):
        token = client.modify_isp_token(
            resource.upstream_id,
            auth_type=auth_type,
            authenticated_ips=authenticated_ips,
            proxy_type=proxy_type,
            username=username,
            password=password,
        )
    return _record(resource, actor, "inventory.isp_token.modify", changes, isp_token_row(token, timezone.now()))


# Shared steps --------------------------------------------------------------------------------------


def _client(resource: Resource) -> unknownproxies.Client:
    return client_for_account(resource.account)


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _refuse_unless_actionable(resource: Resource, kind: str, *, allow_expired: bool = False) -> None:
    """Refuse, before any upstream call, a token of the wrong kind, gone upstream, or (usually) expired."""
    operation = f"modify {kind}"
    if resource.kind != kind:
        raise errors.InvalidRequestError(
            f"this action is for a {dict(registry.resource_kind_choices())[kind]}, not a {resource.get_kind_display()}",
            provider=unknownproxies.PROVIDER,
            operation=operation,
        )
    if resource.status == ResourceStatus.VANISHED:
        raise errors.ConflictError(
            "this token is gone upstream and can no longer be changed",
            provider=unknownproxies.PROVIDER,
            operation=operation,
        )
    if resource.status == ResourceStatus.EXPIRED and not allow_expired:
        raise errors.ConflictError(
            "this token has expired and can no longer be changed", provider=unknownproxies.PROVIDER, operation=operation
        )


def _audit_data(changes: dict[str, Any]) -> dict[str, Any]:
    # Credentials are named, never repeated: the audit log is read by everyone on staff.
    return {
        "fields": sorted(changes),
        **{name: value for name, value in changes.items() if name not in ("username", "password")},
    }


def _recording_account_outcome(
    account: ProviderAccount, actor: User | None, action: str, data: dict[str, Any], customer: Customer | None
):
    """Around a create: a lost answer is audited on the account (there is no resource yet), then re-raised."""
    return common.recording_unknown_outcome(
        action=action,
        actor=actor,
        target=account,
        customer=customer,
        data={**data, "outcome": "unknown", "note": UNKNOWN_OUTCOME_NOTE},
    )


@transaction.atomic
def _created(
    account: ProviderAccount, actor: User | None, action: str, data: dict[str, Any], row: Row, customer: Customer | None
) -> Resource:
    """Mirror a token the provider just created, hand it to the customer when one was chosen, and audit it."""
    resource = mirror.mirror_row(account, row, now=timezone.now())
    if customer is not None:
        resource = assignment.resource_assign(resource=resource, customer=customer, actor=actor)
    audit.record(
        action=action,
        actor=actor,
        target=resource,
        customer=customer,
        data={**data, "token": resource.upstream_id, "customer": customer.name if customer else None},
    )
    return resource


@contextmanager
def _recording_unknown_outcome(
    resource: Resource, actor: User | None, action: str, changes: dict[str, Any]
) -> Iterator[None]:
    """Around the upstream call: a lost answer leaves an audit row `<action>_unknown`, then re-raises."""
    with common.recording_unknown_outcome(
        action=action,
        actor=actor,
        target=resource,
        customer=resource.customer,
        data={**_audit_data(changes), "outcome": "unknown", "note": UNKNOWN_OUTCOME_NOTE},
    ):
        yield


@transaction.atomic
def _record(resource: Resource, actor: User | None, action: str, changes: dict[str, Any], row: Row) -> Resource:
    """Mirror the provider's answer on the local row (the way a sync would) and write the audit row."""
    resource.save(update_fields=mirror.apply_row(resource, row, now=timezone.now(), usage=True))
    audit.record(action=action, actor=actor, target=resource, customer=resource.customer, data=_audit_data(changes))
    return resource

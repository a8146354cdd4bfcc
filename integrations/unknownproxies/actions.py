"""Actions on Unknown Proxies tokens: modify a residential or ISP token upstream, mirror the answer, audit it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from integrations.unknownproxies import client as unknownproxies
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN
from integrations.unknownproxies.mirror import isp_token_row, resi_token_row
from inventory import mirror
from inventory import outcomes as common
from inventory.mirror import Row
from inventory.models import Resource, ResourceStatus
from ops import audit
from providers import registry
from providers.http import errors
from providers.registry import client_for_account

UNKNOWN_OUTCOME_NOTE = (
    "the provider did not answer; the change may or may not have been applied; the next sync will show the truth"
)


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


def token_refresh(*, resource: Resource, actor: User | None) -> Resource:
    """Read one residential or ISP token from upstream and mirror it, as a sync would for all of them."""
    client = _client(resource)
    now = timezone.now()
    if resource.kind == RESI_TOKEN:
        row = resi_token_row(client.get_resi_token(resource.upstream_id), now)
    else:
        row = isp_token_row(client.get_isp_token(resource.upstream_id), now)
    return _record(resource, actor, "inventory.token.refresh", {}, row)


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

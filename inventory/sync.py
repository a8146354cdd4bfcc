"""Mirroring one provider account: read every upstream list, upsert the Resource rows, mark what vanished.

`sync_account()` is the only writer of the upstream-owned columns of `Resource`. It never touches
`customer` (assignment is ours) or `first_seen_at`. All upstream reads happen before the first write,
and all writes happen in one transaction, so a failed read leaves the mirror exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, astuple, dataclass
from itertools import islice
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from inventory.models import KINDS_BY_PROVIDER, Resource, ResourceKind, ResourceStatus, SyncRun
from ops import audit
from providers import crypto, errors
from providers.clients import iproxy, proxyshop, unknownproxies
from providers.models import ProviderAccount
from providers.services import client_for_account

BATCH_SIZE = 1000
# iProxy online statuses that mean the phone is not serving traffic right now.
OFFLINE_STATUSES = frozenset({"offline", "flapping", "nodata"})
# The columns a sync owns; `customer` and `first_seen_at` are deliberately absent.
UPSTREAM_FIELDS = (
    "parent",
    "label",
    "status",
    "expires_at",
    "data_used_bytes",
    "data_limit_bytes",
    "upstream",
    "last_synced_at",
    "vanished_at",
)
LABEL_LENGTH = Resource._meta.get_field("label").max_length


def lock_key(account: ProviderAccount) -> str:
    return f"inventory:sync:{account.pk}"


@dataclass(frozen=True, slots=True)
class Row:
    """What one upstream object becomes; `parent_id` names the parent's upstream id (same account)."""

    kind: str
    upstream_id: str
    label: str
    status: str
    expires_at: dt.datetime | None
    upstream: Mapping[str, Any]
    data_used_bytes: int | None = None
    data_limit_bytes: int | None = None
    parent_id: str | None = None

    def columns(self, now: dt.datetime) -> dict[str, Any]:
        """The Resource columns this row sets; customer, parent and first_seen_at are not the upstream's."""
        return {
            "label": self.label[:LABEL_LENGTH],
            "status": self.status,
            "expires_at": self.expires_at,
            "data_used_bytes": self.data_used_bytes,
            "data_limit_bytes": self.data_limit_bytes,
            "upstream": dict(self.upstream),
            "last_synced_at": now,
        }


# Mapping: one small function per kind -------------------------------------------------------------


def resi_token_row(token: unknownproxies.ResiToken, now: dt.datetime) -> Row:
    # Expired when the upstream says so (its clock, its usage count) or when our clock says so.
    expired = token.status == "expired" or token.is_expired(now)
    return Row(
        kind=ResourceKind.RESI_TOKEN,
        upstream_id=token.token,
        label=token.username,
        status=ResourceStatus.EXPIRED if expired else ResourceStatus.ACTIVE,
        expires_at=token.expires_at,
        data_used_bytes=token.data_usage,
        data_limit_bytes=token.data_limit,
        upstream=token.raw,
    )


def isp_token_row(token: unknownproxies.IspToken, now: dt.datetime) -> Row:
    if token.status == "expired" or token.is_expired(now):
        status = ResourceStatus.EXPIRED
    elif token.status == "processing":
        status = ResourceStatus.PROCESSING
    else:
        status = ResourceStatus.ACTIVE
    return Row(
        kind=ResourceKind.ISP_TOKEN,
        upstream_id=token.token,
        label=f"{token.region} {token.product} ×{token.quantity}",  # noqa: RUF001 (a multiplication sign, as meant)
        status=status,
        expires_at=token.expires_at,
        data_used_bytes=token.data_usage,
        upstream=token.raw,
    )


def shop_subscription_row(subscription: proxyshop.Subscription, now: dt.datetime) -> Row:
    expired = subscription.status == "expired" or subscription.active_until <= now
    return Row(
        kind=ResourceKind.SHOP_SUBSCRIPTION,
        upstream_id=subscription.id,
        label=subscription.label,
        status=ResourceStatus.EXPIRED if expired else ResourceStatus.ACTIVE,
        expires_at=subscription.active_until,
        upstream=subscription.raw,
    )


def iproxy_connection_row(
    connection: iproxy.Connection, online: iproxy.ConnectionStatus | None, now: dt.datetime
) -> Row:
    online_status = online.online_status if online is not None else None
    plan = connection.active_plan
    if plan is None or plan.expires_at <= now:
        status = ResourceStatus.EXPIRED
    elif online_status in OFFLINE_STATUSES:
        status = ResourceStatus.OFFLINE
    else:
        status = ResourceStatus.ACTIVE
    return Row(
        kind=ResourceKind.IPROXY_CONNECTION,
        upstream_id=connection.id,
        label=connection.basic_info.name,
        status=status,
        expires_at=plan.expires_at if plan is not None else None,
        # The status list's fields ride along: alerts date an outage by `last_online_status_update`.
        upstream={**connection.raw, **_status_fields(online)},
    )


def _status_fields(online: iproxy.ConnectionStatus | None) -> dict[str, Any]:
    if online is None:
        return {}
    return {key: online.raw[key] for key in ("online_status", "last_online_status_update") if key in online.raw}


def iproxy_access_row(access: iproxy.ProxyAccess, parent_status: str | None, now: dt.datetime) -> Row:
    if access.expires_at is not None and access.expires_at <= now:
        status = ResourceStatus.EXPIRED
    else:
        status = parent_status or ResourceStatus.ACTIVE
    return Row(
        kind=ResourceKind.IPROXY_ACCESS,
        upstream_id=access.id,
        label=f"{access.hostname or access.ip}:{access.port}",
        status=status,
        expires_at=access.expires_at,
        upstream=access.raw,
        parent_id=access.connection_id,
    )


# Reading: every upstream call for one provider, nothing written -----------------------------------


def _read_unknownproxies(client: unknownproxies.Client, now: dt.datetime) -> list[Row]:
    resi = [resi_token_row(token, now) for token in client.list_resi_tokens()]
    return resi + [isp_token_row(token, now) for token in client.list_isp_tokens()]


def _read_shop(client: proxyshop.Client, now: dt.datetime) -> list[Row]:
    return [shop_subscription_row(subscription, now) for subscription in client.subscriptions()]


def _read_iproxy(client: iproxy.Client, now: dt.datetime) -> list[Row]:
    connections = client.list_connections()
    online = {status.connection_id: status for status in client.connection_statuses()}
    accesses = client.list_all_proxy_accesses()
    rows = [iproxy_connection_row(connection, online.get(connection.id), now) for connection in connections]
    status_of = {row.upstream_id: row.status for row in rows}
    return rows + [iproxy_access_row(access, status_of.get(access.connection_id), now) for access in accesses]


READERS: dict[str, Callable[[Any, dt.datetime], list[Row]]] = {
    "unknownproxies": _read_unknownproxies,
    "shop": _read_shop,
    "iproxy": _read_iproxy,
}


# Writing ---------------------------------------------------------------------------------------------


@dataclass
class Counts:
    seen: int = 0
    created: int = 0
    updated: int = 0
    vanished: int = 0


def _write(account: ProviderAccount, rows: Iterable[Row], now: dt.datetime) -> Counts:
    """Upsert every row (parents first), then mark the account's unseen resources of these kinds vanished.

    Every row written gets `last_synced_at = now`; that is how the vanished ones are told apart.
    `updated` counts rows that already existed (they are rewritten in place), `created` the new ones.
    """
    kinds = KINDS_BY_PROVIDER[account.kind]
    by_kind: dict[str, dict[str, Row]] = {kind: {} for kind in kinds}
    for row in rows:
        by_kind[row.kind][row.upstream_id] = row  # an id listed twice upstream is written once
    mine = Resource.objects.filter(account=account)
    counts = Counts()
    parent_pks: dict[str, int] = {}
    for kind in kinds:  # KINDS_BY_PROVIDER lists parents before children
        found = by_kind[kind]
        if any(row.parent_id for row in found.values()):
            parent_pks = dict(
                mine.filter(kind=ResourceKind.IPROXY_CONNECTION).values_list("upstream_id", "pk").iterator()
            )
        existing = set(mine.filter(kind=kind).values_list("upstream_id", flat=True).iterator())
        # Model instances are built one batch at a time: 100,000 of them at once cost hundreds of MB.
        for batch in batched(found.values(), BATCH_SIZE):
            Resource.objects.bulk_create(
                [_resource(account, row, now, parent_pks) for row in batch],
                update_conflicts=True,
                unique_fields=["account", "kind", "upstream_id"],
                update_fields=list(UPSTREAM_FIELDS),
            )
        counts.seen += len(found)
        counts.created += len(found.keys() - existing)
        counts.updated += len(found.keys() & existing)
    counts.vanished = (
        mine.filter(kind__in=kinds, vanished_at__isnull=True)
        .exclude(last_synced_at=now)
        .update(status=ResourceStatus.VANISHED, vanished_at=now)
    )
    return counts


def batched(items: Iterable[Row], size: int) -> Iterable[list[Row]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _resource(account: ProviderAccount, row: Row, now: dt.datetime, parent_pks: Mapping[str, int]) -> Resource:
    return Resource(
        account=account,
        kind=row.kind,
        upstream_id=row.upstream_id,
        parent_id=parent_pks.get(row.parent_id) if row.parent_id else None,
        first_seen_at=now,
        vanished_at=None,
        **row.columns(now),
    )


def mirror_row(account: ProviderAccount, row: Row, *, now: dt.datetime, parent: Resource | None = None) -> Resource:
    """Write one row outside a full sync (after an action or an order): the same columns as the sync,
    creating the resource when it is new; `customer` and `first_seen_at` of an existing one stay ours."""
    columns = {**row.columns(now), "parent": parent, "vanished_at": None}
    resource, _ = Resource.objects.update_or_create(
        account=account,
        kind=row.kind,
        upstream_id=row.upstream_id,
        defaults=columns,
        create_defaults={**columns, "first_seen_at": now},
    )
    return resource


# The service -----------------------------------------------------------------------------------------


def sync_account(*, account: ProviderAccount) -> SyncRun:
    """Mirror one account's upstream resources; returns the SyncRun that records what happened.

    Only one sync per account runs at a time (a cache lock); a second one records a "skipped" run.
    A provider error is recorded on the run and on the account; RateLimitedError and UnavailableError
    are raised again afterwards so the task can retry later.
    """
    key, token = lock_key(account), uuid.uuid4().hex
    if not cache.add(key, token, timeout=settings.CELERY_TASK_TIME_LIMIT):
        return SyncRun.objects.create(account=account, outcome=SyncRun.Outcome.SKIPPED, finished_at=timezone.now())
    try:
        return _sync_locked(account)
    finally:
        # The lock may have expired and been taken by another sync meanwhile: release it only if still ours.
        if cache.get(key) == token:
            cache.delete(key)


def _sync_locked(account: ProviderAccount) -> SyncRun:
    run = SyncRun.objects.create(account=account)
    now = timezone.now()
    try:
        rows = READERS[account.kind](client_for_account(account), now)
    except (errors.ProviderError, crypto.SecretUnreadable) as exc:
        _fail(run, account, str(exc))
        if isinstance(exc, errors.RateLimitedError | errors.UnavailableError):
            raise
        return run
    try:
        with transaction.atomic():
            counts = _write(account, rows, now)
            run.seen, run.created, run.updated, run.vanished = astuple(counts)
            run.outcome, run.finished_at = SyncRun.Outcome.OK, timezone.now()
            run.save()
            _set_last_error(account, "")
            if counts.created or counts.vanished:
                audit.record(
                    action="inventory.sync",
                    target=account,
                    data={"run": run.pk, **asdict(counts)},
                )
    except Exception as exc:
        # Nothing was written (the transaction rolled back); the run says so instead of staying "running".
        _fail(run, account, f"the mirror could not be written: {type(exc).__name__}")
        raise
    return run


def _fail(run: SyncRun, account: ProviderAccount, message: str) -> None:
    run.outcome, run.error, run.finished_at = SyncRun.Outcome.FAILED, message, timezone.now()
    run.save(update_fields=["outcome", "error", "finished_at"])
    _set_last_error(account, message)


def _set_last_error(account: ProviderAccount, message: str) -> None:
    # An update, not save(): the rest of the row may have been changed by staff since it was loaded.
    ProviderAccount.objects.filter(pk=account.pk).update(last_error=message)
    account.last_error = message

"""The one writer of the upstream-owned columns of `Resource`: what an upstream object becomes, and writing it.

Integrations map their typed upstream objects to `Row`s (`integrations/<kind>/mirror.py`); the sync
writes a whole account's rows in bulk, and actions and orders write the rows an answer gave with
`mirror_row()`. Both set the same columns; neither touches `customer` (assignment is ours) or
`first_seen_at` of an existing resource.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from inventory.models import Resource, ResourceStatus

BATCH_SIZE = 1000
# The columns the mirror owns; `customer` and `first_seen_at` are deliberately absent.
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


@dataclass
class Counts:
    seen: int = 0
    created: int = 0
    updated: int = 0
    vanished: int = 0


def mirror_row(account: Any, row: Row, *, now: dt.datetime, parent: Resource | None = None) -> Resource:
    """Write one row outside a full sync (after an action or an order): the same columns as the sync,
    creating the resource when it is new; `customer` and `first_seen_at` of an existing one stay ours."""
    if parent is None and row.parent_id:
        # A child written alone (a bought proxy access) keeps its link to the parent the sync made.
        parent = Resource.objects.filter(account=account, upstream_id=row.parent_id).exclude(kind=row.kind).first()
    columns = {**row.columns(now), "parent": parent, "vanished_at": None}
    resource, _ = Resource.objects.update_or_create(
        account=account,
        kind=row.kind,
        upstream_id=row.upstream_id,
        defaults=columns,
        create_defaults={**columns, "first_seen_at": now},
    )
    return resource


# What an action's answer sets on an existing row; the usage figures only for kinds that have them.
MIRRORED_FIELDS = ["label", "status", "expires_at", "upstream", "last_synced_at"]
USAGE_FIELDS = ["data_used_bytes", "data_limit_bytes"]


def apply_row(resource: Resource, row: Row, *, now: dt.datetime, usage: bool) -> list[str]:
    """Set a mapped row on a resource an action holds, unsaved; returns the fields to save with it.

    For an answer about one resource already in the mirror (its parent, customer and first sighting stay).
    """
    fields = [*MIRRORED_FIELDS, *USAGE_FIELDS] if usage else list(MIRRORED_FIELDS)
    columns = row.columns(now)
    for name in fields:
        setattr(resource, name, columns[name])
    return fields


def mark_vanished(resources, *, now: dt.datetime) -> int:
    """Mark resources gone upstream (a sync that no longer lists them, or a 404 on a read of one)."""
    return resources.filter(vanished_at__isnull=True).update(status=ResourceStatus.VANISHED, vanished_at=now)


def write_account_rows(account: Any, kinds: Sequence[str], rows: Iterable[Row], now: dt.datetime) -> Counts:
    """Upsert every row of one account (parents first), then mark its unseen resources of these kinds vanished.

    Every row written gets `last_synced_at = now`; that is how the vanished ones are told apart.
    `updated` counts rows that already existed (they are rewritten in place), `created` the new ones.
    """
    by_kind: dict[str, dict[str, Row]] = {kind: {} for kind in kinds}
    for row in rows:
        by_kind[row.kind][row.upstream_id] = row  # an id listed twice upstream is written once
    mine = Resource.objects.filter(account=account)
    counts = Counts()
    for index, kind in enumerate(kinds):  # the integration lists parents before children
        found = by_kind[kind]
        parent_pks: dict[str, int] = {}
        if index and any(row.parent_id for row in found.values()):
            parent_pks = dict(mine.filter(kind__in=kinds[:index]).values_list("upstream_id", "pk").iterator())
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
    counts.vanished = mark_vanished(mine.filter(kind__in=kinds).exclude(last_synced_at=now), now=now)
    return counts


def batched(items: Iterable[Row], size: int) -> Iterable[list[Row]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _resource(account: Any, row: Row, now: dt.datetime, parent_pks: Mapping[str, int]) -> Resource:
    return Resource(
        account=account,
        kind=row.kind,
        upstream_id=row.upstream_id,
        parent_id=parent_pks.get(row.parent_id) if row.parent_id else None,
        first_seen_at=now,
        vanished_at=None,
        **row.columns(now),
    )

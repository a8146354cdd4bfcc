"""The one writer of the upstream-owned columns of `Resource`: what an upstream object becomes, and writing it.

Integrations map their typed upstream objects to `Row`s (`integrations/<kind>/mirror.py`); the sync
writes a whole account's rows with `write_account_rows()`, and actions and orders write the rows an answer
gave with `mirror_row()`. Both set the same columns; neither touches `customer` (assignment is ours) or
`first_seen_at` of an existing resource.

The sync writes only what changed: each row's fingerprint (a hash of the mapped row) is kept on the resource,
and a row that maps to the same hash is not written. What vanished is what the mirror holds and the upstream
no longer lists (a set difference). Writes go in chunks, each its own short transaction, so nothing waits
behind one 100,000-row transaction. A value no column can hold is never allowed to stop the sync: the row is
stored without it (or, when even its id does not fit, not at all) and reported on the run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction

from inventory.drift import DriftWatch
from inventory.models import Resource, ResourceStatus, UsageSample
from providers.http.rules import BIGINT_MAX

# Rows per write transaction (and per usage-sample insert).
BATCH_SIZE = 1000
# Problems a run keeps by name; it counts them all.
PROBLEMS_KEPT = 100
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
    "fingerprint",
)
LABEL_LENGTH = Resource._meta.get_field("label").max_length
UPSTREAM_ID_LENGTH = Resource._meta.get_field("upstream_id").max_length
# The usage columns are bigints.
USAGE_COLUMNS = {"data_used_bytes": "data usage", "data_limit_bytes": "data limit"}
BIGINT_MIN = -BIGINT_MAX - 1


def fits_bigint(value: int | None) -> bool:
    return value is None or BIGINT_MIN <= value <= BIGINT_MAX


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
        """The Resource columns this row sets; customer, parent and first_seen_at are not the upstream's.

        A usage figure no bigint holds is stored as unknown (None); `problems()` says so, and the upstream
        JSON keeps the value as it came.
        """
        return {
            "label": self.label[:LABEL_LENGTH],
            "status": self.status,
            "expires_at": self.expires_at,
            "data_used_bytes": self.data_used_bytes if fits_bigint(self.data_used_bytes) else None,
            "data_limit_bytes": self.data_limit_bytes if fits_bigint(self.data_limit_bytes) else None,
            "upstream": dict(self.upstream),
            "last_synced_at": now,
            # Written outside a sync: the next sync cannot trust it, so it rewrites the row.
            "fingerprint": "",
        }

    def refusal(self) -> str:
        """Why this row cannot be stored at all ("" when it can): its id does not fit the mirror."""
        if not self.upstream_id or len(self.upstream_id) > UPSTREAM_ID_LENGTH:
            return f"the upstream id is empty or longer than {UPSTREAM_ID_LENGTH} characters: the row is not mirrored"
        return ""

    def problems(self) -> list[str]:
        """What of this row the mirror cannot hold as it came (each value is then stored as unknown)."""
        if fits_bigint(self.data_used_bytes) and fits_bigint(self.data_limit_bytes):
            return []
        return [
            f"the {meaning} {getattr(self, name)} is outside what the mirror holds "
            f"(at most {BIGINT_MAX:,}): stored as unknown"
            for name, meaning in USAGE_COLUMNS.items()
            if not fits_bigint(getattr(self, name))
        ]

    def upstream_json(self) -> str:
        """The upstream JSON as stored, and as the fingerprint hashes it (one encoding per row)."""
        # Not key-sorted: the same upstream answers in the same order, and sorting costs a fifth of the sync.
        return json.dumps(self.upstream, separators=(",", ":"), default=str)

    def fingerprint(self, upstream_json: str | None = None) -> str:
        """A hash of everything this row sets: equal fingerprints mean there is nothing to write."""
        expires = self.expires_at.isoformat() if self.expires_at else ""
        mapped = (
            f"{self.label}\x1f{self.status}\x1f{expires}\x1f{self.data_used_bytes}\x1f{self.data_limit_bytes}"
            f"\x1f{self.parent_id}\x1f{upstream_json if upstream_json is not None else self.upstream_json()}"
        )
        return hashlib.blake2b(mapped.encode(), digest_size=16).hexdigest()


@dataclass
class Counts:
    """What one sync did: rows listed, created, changed (written), vanished and unchanged (not written)."""

    seen: int = 0
    created: int = 0
    updated: int = 0
    vanished: int = 0
    unchanged: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    problem_count: int = 0
    # New drift items (`inventory.drift`): changes someone made in the provider's console.
    drift_opened: int = 0

    def report(self, row: Row, reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(
                {"kind": row.kind, "upstream_id": row.upstream_id[:UPSTREAM_ID_LENGTH], "reason": reason}
            )


class _Mirrored(NamedTuple):
    pk: int
    fingerprint: str
    vanished: bool


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
MIRRORED_FIELDS = ["label", "status", "expires_at", "upstream", "last_synced_at", "fingerprint"]
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
    """Write the new and changed rows of one account (parents first), then mark its unlisted resources vanished.

    A row whose fingerprint equals the mirrored one is skipped (`unchanged`); `updated` counts the existing rows
    that changed and were written, `created` the new ones. Each written row with a usage figure also gets a
    usage sample. Every write is in chunks of BATCH_SIZE rows, one transaction each.
    """
    by_kind: dict[str, dict[str, Row]] = {kind: {} for kind in kinds}
    for row in rows:
        by_kind[row.kind][row.upstream_id] = row  # an id listed twice upstream is written once
    mine = Resource.objects.filter(account=account)
    # What the mirror holds: small tuples, not model instances (100,000 of those cost hundreds of MB).
    # The vanished ones apart: reading 100,000 datetimes just to test them for NULL costs seconds.
    vanished = set(mine.filter(kind__in=kinds, vanished_at__isnull=False).values_list("pk", flat=True))
    mirrored: dict[tuple[str, str], _Mirrored] = {
        (kind, upstream_id): _Mirrored(pk, fingerprint, pk in vanished)
        for kind, upstream_id, pk, fingerprint in mine.filter(kind__in=kinds)
        .values_list("kind", "upstream_id", "pk", "fingerprint")
        .iterator(chunk_size=5000)
    }
    counts = Counts()
    watch = DriftWatch(account, kinds, now)
    for index, kind in enumerate(kinds):  # the integration lists parents before children
        found = by_kind[kind]
        counts.seen += len(found)
        parent_pks: dict[str, int] = {}
        if index and any(row.parent_id for row in found.values()):
            parent_pks = dict(mine.filter(kind__in=kinds[:index]).values_list("upstream_id", "pk").iterator())
        pending: list[tuple[Row, str, str]] = []
        # The existing rows of `pending` (pk, row): changed ones are judged for drift, returned ones were gone.
        changed: list[tuple[int, Row]] = []
        returned: list[tuple[int, Row]] = []
        for row in found.values():
            known = mirrored.pop((kind, row.upstream_id), None)  # what is left at the end has vanished
            if refusal := row.refusal():
                counts.report(row, refusal)
                continue
            for problem in row.problems():
                counts.report(row, problem)
            upstream_json = row.upstream_json()
            fingerprint = row.fingerprint(upstream_json)
            if known is not None and known.fingerprint == fingerprint and not known.vanished:
                counts.unchanged += 1
                continue
            if known is None:
                counts.created += 1
            else:
                counts.updated += 1
            pending.append((row, fingerprint, upstream_json))
            if known is not None:
                (returned if known.vanished else changed).append((known.pk, row))
            if len(pending) == BATCH_SIZE:
                _judge_and_write(account, pending, now, parent_pks, watch, changed, returned, counts)
                pending, changed, returned = [], [], []
        if pending:
            _judge_and_write(account, pending, now, parent_pks, watch, changed, returned, counts)
    gone = [known.pk for known in mirrored.values() if not known.vanished]
    for batch in batched(gone, BATCH_SIZE):
        with transaction.atomic():
            watch.vanished(batch)
            counts.vanished += mark_vanished(Resource.objects.filter(pk__in=batch), now=now)
    counts.drift_opened = watch.opened
    return counts


def _judge_and_write(
    account: Any,
    pending: list[tuple[Row, str, str]],
    now: dt.datetime,
    parent_pks: Mapping[str, int],
    watch: DriftWatch,
    changed: list[tuple[int, Row]],
    returned: list[tuple[int, Row]],
    counts: Counts,
) -> None:
    """One chunk: judge its changed rows for drift against the mirror as it still is, then write it, together."""
    if not (changed or returned):
        _write(account, pending, now, parent_pks)
        return
    with transaction.atomic():
        try:
            with transaction.atomic():
                watch.judge_changed(changed, counts.report)
                watch.returned([pk for pk, _ in returned])
        except Exception as exc:  # drift is a view on the sync, never a reason for it to stop
            counts.report(pending[0][0], f"changes outside the dashboard could not be checked: {type(exc).__name__}")
        _write(account, pending, now, parent_pks)


def batched(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# The columns one upsert writes, in order; on a conflict all but the key and `first_seen_at` are replaced.
_INSERT_COLUMNS = ("account_id", "kind", "upstream_id", "first_seen_at", "parent_id", *UPSTREAM_FIELDS[1:])
_KEY_COLUMNS = ("account_id", "kind", "upstream_id")
_SAMPLE_COLUMNS = ("resource_id", "at", "bytes_used", "bytes_limit", "resolution")


def _write(account: Any, pending: list[tuple[Row, str, str]], now: dt.datetime, parent_pks: Mapping[str, int]) -> None:
    """Upsert one chunk of rows and sample their usage, in one short transaction.

    Plain SQL rather than `bulk_create`: the ORM's per-value preparation cost more than the database did (about
    0.5 ms a row), and the sync must stay within a few times the bare upstream listing. One
    `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` per chunk (see `_insert_sql` for the two dialects).
    """
    ops = connection.ops
    adapt = _datetime_adapter()
    at = adapt(now)
    values = []
    for row, fingerprint, upstream_json in pending:
        # The same columns as `Row.columns()`, without building its dict for every row.
        used, limit = row.data_used_bytes, row.data_limit_bytes
        values.append(
            (
                account.pk,
                row.kind,
                row.upstream_id,
                at,
                parent_pks.get(row.parent_id) if row.parent_id else None,
                row.label[:LABEL_LENGTH],
                row.status,
                adapt(row.expires_at),
                used if fits_bigint(used) else None,
                limit if fits_bigint(limit) else None,
                upstream_json,  # the text already encoded for the fingerprint
                at,
                None,
                fingerprint,
            )
        )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement a chunk: the upsert hands its rows straight to the samples' insert.
            for batch in batched(values, _rows_per_statement(len(_INSERT_COLUMNS))):
                upsert, params = _upsert_sql(batch, returning=("id", "data_used_bytes", "data_limit_bytes"))
                cursor.execute(
                    f"WITH written AS ({upsert}) INSERT INTO {ops.quote_name(UsageSample._meta.db_table)} "  # noqa: S608
                    f"({', '.join(map(ops.quote_name, _SAMPLE_COLUMNS))}) "
                    f"SELECT id, %s::timestamptz, data_used_bytes, data_limit_bytes, %s "
                    f"FROM written WHERE data_used_bytes IS NOT NULL",
                    [*params, at, UsageSample.Resolution.RAW],
                )
            return
        pks: dict[str, int] = {}
        for batch in batched(values, _rows_per_statement(len(_INSERT_COLUMNS))):
            cursor.execute(*_upsert_sql(batch, returning=("upstream_id", "id")))
            pks.update(cursor.fetchall())
        samples = [
            (pks[row.upstream_id], at, columns[8], columns[9], UsageSample.Resolution.RAW)
            for (row, _, _), columns in zip(pending, values, strict=True)
            if columns[8] is not None
        ]
        for batch in batched(samples, _rows_per_statement(len(_SAMPLE_COLUMNS))):
            cursor.execute(*_insert_sql(UsageSample, _SAMPLE_COLUMNS, batch))


def _upsert_sql(rows: Sequence[Sequence[Any]], *, returning: Sequence[str]) -> tuple[str, list[Any]]:
    """The insert of these resource rows; on a conflict all but the key and `first_seen_at` are replaced."""
    quote = connection.ops.quote_name
    sql, params = _insert_sql(Resource, _INSERT_COLUMNS, rows)
    updates = ", ".join(f"{name} = excluded.{name}" for name in map(quote, _INSERT_COLUMNS[4:]))
    return (
        f"{sql} ON CONFLICT ({', '.join(map(quote, _KEY_COLUMNS))}) DO UPDATE SET {updates} "
        f"RETURNING {', '.join(map(quote, returning))}"
    ), params


def _insert_sql(model: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """`INSERT INTO <table> (<columns>) ...` for these rows, and its parameters; JSON columns come as text.

    On PostgreSQL the whole chunk is one jsonb parameter, one array per row, encoded in one call (a statement
    with 14,000 placeholders, or one array parameter per column, costs psycopg seconds to prepare on the
    client; encoding row by row costs three times the one call). Elsewhere (SQLite) a multi-row VALUES. Only
    quoted names from the model's meta go into the statement.
    """
    quote = connection.ops.quote_name
    names = ", ".join(map(quote, columns))
    table = quote(model._meta.db_table)
    if connection.vendor == "postgresql":
        fields = [model._meta.get_field(column) for column in columns]
        # A JSON column's text travels as a string and is parsed once, on the server.
        selected = ", ".join(
            f"(r->>{index})::{'jsonb' if field.get_internal_type() == 'JSONField' else field.db_type(connection)}"
            for index, field in enumerate(fields)
        )
        sql = f"INSERT INTO {table} ({names}) SELECT {selected} FROM jsonb_array_elements(%s::jsonb) AS e(r)"  # noqa: S608
        return sql, [json.dumps(rows, separators=(",", ":"))]
    one = f"({', '.join(['%s'] * len(columns))})"
    sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(rows))}"  # noqa: S608
    return sql, [value for row in rows for value in row]


def _datetime_adapter() -> Callable[[dt.datetime | None], Any]:
    """How this database's rows take an aware datetime, the same as the ORM stores it but without its per-value
    checks (20,000 of them cost a tenth of the sync): ISO text in PostgreSQL's JSON rows (see `_insert_sql`),
    naive text in the connection's time zone elsewhere."""
    if connection.vendor == "postgresql":
        return _isoformat
    if not settings.USE_TZ:
        return connection.ops.adapt_datetimefield_value
    zone = connection.timezone

    def naive_text(value: dt.datetime | None) -> str | None:
        return None if value is None else str(value.astimezone(zone).replace(tzinfo=None))

    return naive_text


def _isoformat(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rows_per_statement(width: int) -> int:
    # SQLite since 3.32 takes 32,766 parameters, far more than Django's cautious 999; PostgreSQL takes arrays.
    if connection.vendor == "postgresql":
        return BATCH_SIZE
    return max(1, min(BATCH_SIZE, 32_000 // width))

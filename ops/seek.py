"""Seek (keyset) pagination and cheap counts for staff and portal lists of any size.

A page is "the next N rows after this row in this order", found with a row-value comparison on an index
that matches the order (`(label, id) > ('x', 42)`), so page 2,000 costs what page 1 costs; OFFSET reads
and throws away every row before the page. Each `SortOrder` is one direction over columns ending with a
unique one (the id), so ties never repeat or skip a row. A nullable first column is split into two
regions, its values then its NULLs ("never expires" last in either direction), each a plain keyset over
its own index range.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

# A filtered list is counted exactly up to this many rows, then shown as "N+".
COUNT_CAP = 1_000
# A filtered list the planner expects to hold this many times the cap is shown as its estimate (see list_count).
ESTIMATE_OVER = 5


@dataclass(frozen=True)
class SortOrder:
    """One way to sort a list: `fields` ends with a unique column; only the first may be NULL."""

    key: str  # what the URL says (?sort=<key>)
    label: str
    fields: tuple[str, ...]
    descending: bool = False
    nullable: bool = False

    def regions(self) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
        """(filter, keyset columns) for each region in page order: non-NULL values first, then NULLs."""
        if not self.nullable:
            return [({}, self.fields)]
        first, rest = self.fields[0], self.fields[1:]
        return [({f"{first}__isnull": False}, self.fields), ({f"{first}__isnull": True}, rest)]


def sort_order(orders: Sequence[SortOrder], key: str | None) -> SortOrder:
    """The order the URL asks for, or the first (the default) for anything unknown."""
    return next((order for order in orders if order.key == key), orders[0])


@dataclass
class SeekPage:
    object_list: list
    has_next: bool
    has_previous: bool
    next_cursor: str
    previous_cursor: str

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def seek_page(queryset: QuerySet, order: SortOrder, *, per_page: int, after: str = "", before: str = "") -> SeekPage:
    """The page after cursor `after` (or before `before`; the first page with neither): per_page rows.

    At most one query per region touched (two only on the page where values give way to NULLs). A
    cursor that cannot be read starts again at the first page instead of failing.
    """
    regions = order.regions()
    model = queryset.model
    backwards = bool(before) and not after
    position = _decode(before if backwards else after, order, model)
    start = position[0] if position else (len(regions) - 1 if backwards else 0)
    step = -1 if backwards else 1
    rows: list = []
    more = False
    index = start
    while 0 <= index < len(regions) and not more:
        conditions, columns = regions[index]
        descending = order.descending != backwards
        region = queryset.filter(**conditions).order_by(*(f"-{c}" if descending else c for c in columns))
        if position and index == start:
            values = position[1]
            lookup = TupleLessThan if descending else TupleGreaterThan
            region = region.filter(lookup(Tuple(*(F(c) for c in columns)), tuple(values)))
        wanted = per_page + 1 - len(rows)
        found = list(region[:wanted])
        rows += [(index, row) for row in found]
        more = len(rows) > per_page
        index += step
    if backwards and not more:
        # Back at the start: the first page is a full page.
        return seek_page(queryset, order, per_page=per_page)
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    has_next = more or backwards
    has_previous = more if backwards else bool(position)
    if not rows:
        return SeekPage([], False, False, "", "")
    return SeekPage(
        object_list=[row for _, row in rows],
        has_next=has_next,
        has_previous=has_previous,
        next_cursor=_encode(*rows[-1], order) if has_next else "",
        previous_cursor=_encode(*rows[0], order) if has_previous else "",
    )


def cursor_after(row: Any, order: SortOrder) -> str:
    """The cursor of the page that starts right after `row` (a model instance or a values() dict)."""
    region = 1 if order.nullable and _value(row, order.fields[0]) is None else 0
    return _encode(region, row, order)


def _encode(region: int, row: Any, order: SortOrder) -> str:
    columns = order.regions()[region][1]
    values = [_value(row, column) for column in columns]
    raw = json.dumps([region, values], default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _value(row: Any, column: str) -> Any:
    return row[column] if isinstance(row, dict) else getattr(row, column)


def _decode(cursor: str, order: SortOrder, model) -> tuple[int, list] | None:
    if not cursor:
        return None
    try:
        region, values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        columns = order.regions()[region][1]
        if region < 0 or len(values) != len(columns):
            return None
        return region, [model._meta.get_field(c).to_python(v) for c, v in zip(columns, values, strict=True)]
    except (ValueError, TypeError, IndexError, binascii.Error, ValidationError):
        return None


@dataclass(frozen=True)
class Count:
    """How many rows a list holds, as exactly as it is cheap to know."""

    value: int
    exact: bool = True
    capped: bool = False

    def __str__(self) -> str:
        if self.capped:
            return f"{self.value:,}+"
        return f"{self.value:,}" if self.exact else f"about {self.value:,}"


def list_count(queryset: QuerySet, *, filtered: bool, cap: int = COUNT_CAP, estimate_large: bool = False) -> Count:
    """An unfiltered list on PostgreSQL: the planner's row estimate (no scan); otherwise an exact count
    that stops at `cap` rows, so a broad search never counts all 100,000 matches.

    `estimate_large` (staff lists): a filtered list the planner expects to hold at least ESTIMATE_OVER
    times `cap` rows is shown as its estimate too, rounded ("about 14,000"), without walking the matches:
    even `cap` of them cost more than the page when each one is tested through a join (a name fragment
    that a fifth of the customers share)."""
    if not filtered:
        estimate = _table_estimate(queryset)
        if estimate is not None and estimate > cap:
            return Count(estimate, exact=False)
    elif estimate_large:
        estimate = _query_estimate(queryset)
        if estimate is not None and estimate >= ESTIMATE_OVER * cap:
            return Count(_rounded(estimate), exact=False)
    counted = queryset.order_by()[: cap + 1].count()
    if counted > cap:
        return Count(cap, capped=True)
    return Count(counted)


def _table_estimate(queryset: QuerySet) -> int | None:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
        )
        row = cursor.fetchone()
    # -1 (or 0) until the table is first vacuumed or analyzed: then count for real.
    return int(row[0]) if row and row[0] > 0 else None


def _query_estimate(queryset: QuerySet) -> int | None:
    """The planner's estimate of the rows `queryset` matches (EXPLAIN plans it, runs nothing), or None."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().explain(format="json"))
    plan = plan[0] if isinstance(plan, list) else plan
    return int(plan["Plan"]["Plan Rows"])


def _rounded(value: int) -> int:
    """Two significant digits: an estimate shown with five would claim a precision it does not have."""
    digits = max(len(str(value)) - 2, 0)
    return round(value, -digits)


def list_queries(params) -> dict[str, str]:
    """The query strings a list page links with: `query` keeps filters and order (for the pager),
    `filter_query` keeps only the filters (for the sortable column headers)."""
    query = params.copy()
    for name in ("after", "before", "page"):
        query.pop(name, None)
    filter_query = query.copy()
    filter_query.pop("sort", None)
    return {"query": query.urlencode(), "filter_query": filter_query.urlencode()}

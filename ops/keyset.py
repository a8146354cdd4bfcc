"""Keyset pagination, newest first, over one queryset or several merged into one list (a timeline).

A page ends with a cursor (time, source rank, id) of its last row; the next page is every row that sorts
after it. Unlike page numbers this stays correct and fast while rows are being added, at any depth.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

SEPARATOR = "~"


@dataclass(frozen=True, order=True)
class Cursor:
    when: dt.datetime
    rank: int = 0
    pk: int = 0

    def encode(self) -> str:
        return SEPARATOR.join((self.when.isoformat(), str(self.rank), str(self.pk)))

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The cursor in a link, or None (the first page) when it is missing or was edited into nonsense."""
        try:
            when, rank, pk = (text or "").split(SEPARATOR)
            moment = dt.datetime.fromisoformat(when)
            return cls(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC), int(rank), int(pk))
        except ValueError:
            return None


def _as_is(row: Any) -> Any:
    return row


@dataclass(frozen=True)
class Source:
    """One queryset of a merged list: its rank breaks ties between rows of the same time."""

    queryset: QuerySet
    rank: int = 0
    time_field: str = "created_at"
    to_item: Callable[[Any], Any] = _as_is


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def after_cursor(source: Source, cursor: Cursor | None) -> QuerySet:
    """The source's rows that come after the cursor, newest first."""
    rows = source.queryset.order_by(f"-{source.time_field}", "-pk")
    if cursor is None:
        return rows
    field = source.time_field
    older = Q(**{f"{field}__lt": cursor.when})
    if source.rank < cursor.rank:
        return rows.filter(older | Q(**{field: cursor.when}))
    if source.rank == cursor.rank:
        return rows.filter(older | Q(**{field: cursor.when, "pk__lt": cursor.pk}))
    return rows.filter(older)


def page(sources: Iterable[Source], *, cursor: Cursor | None, size: int) -> Page:
    """Up to `size` rows of all sources in one newest-first list, each turned into its item, and the next cursor."""
    keyed = []
    for source in sources:
        rows = list(after_cursor(source, cursor)[: size + 1])
        keyed.append([(Cursor(getattr(row, source.time_field), source.rank, row.pk), source, row) for row in rows])
    merged = list(heapq.merge(*keyed, key=lambda entry: entry[0], reverse=True))
    shown = merged[:size]
    next_cursor = shown[-1][0].encode() if len(merged) > size else None
    return Page(items=[source.to_item(row) for _, source, row in shown], next_cursor=next_cursor)

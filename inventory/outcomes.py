"""Steps shared by the provider action services: auditing a lost answer, and mirroring an answer on the local row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from accounts.models import User
from inventory.mirror import Row
from inventory.models import Resource
from ops import audit
from providers.http import errors

# What a mirrored answer sets on the local row; the usage figures only for kinds that have them.
MIRRORED_FIELDS = ["label", "status", "expires_at", "upstream", "last_synced_at"]
USAGE_FIELDS = ["data_used_bytes", "data_limit_bytes"]


@contextmanager
def recording_unknown_outcome(
    *, action: str, actor: User | None, target: Any, customer: Any, data: Mapping[str, Any]
) -> Iterator[None]:
    """The one unknown-outcome helper: a lost answer leaves an audit row `<action>_unknown`, then re-raises.

    The change may or may not have happened upstream; the next sync (or reconciliation) shows the truth.
    """
    try:
        yield
    except errors.UnknownOutcomeError:
        audit.record(action=f"{action}_unknown", actor=actor, target=target, customer=customer, data=dict(data))
        raise


def attempt_upstream(
    *, resource: Resource, actor: User | None, action: str, data: dict[str, Any], note: str, call: Callable[[], Any]
) -> Any:
    """Make the upstream call on a resource, recording a lost answer (see `recording_unknown_outcome`)."""
    with recording_unknown_outcome(
        action=action,
        actor=actor,
        target=resource,
        customer=resource.customer,
        data={**data, "outcome": "unknown", "note": note},
    ):
        return call()


def apply_row(resource: Resource, row: Row, *, now: dt.datetime, usage: bool) -> list[str]:
    """Set a mapped row (the sync's own mapping) on the resource, unsaved; returns the fields to save."""
    fields = [*MIRRORED_FIELDS, *USAGE_FIELDS] if usage else list(MIRRORED_FIELDS)
    columns = row.columns(now)
    for name in fields:
        setattr(resource, name, columns[name])
    return fields

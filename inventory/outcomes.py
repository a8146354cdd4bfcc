"""The one unknown-outcome helper: auditing an upstream call whose answer was lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from accounts.models import User
from inventory.models import Resource
from ops import audit
from providers.http import errors


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

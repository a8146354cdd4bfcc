"""The upstream side of an order, through the registry: each product kind's integration knows what to send.

Three steps, each called by `billing.services` outside any database transaction:

- `prepare(order)` decides what will be sent, so the order can store it *before* anything leaves;
  reconciliation matches on it later.
- `submit(order)` makes the one upstream call that costs us money and returns the mirror rows.
- `find(order)` looks upstream for the effect of a call whose answer was lost: rows when it happened,
  None when it did not. For a purchase the rows are candidates (every one that could be this order's):
  `billing.services` decides whether they prove it or need a staff decision.
- `lane(order)` (optional) names what `find` could confuse this order with (see `billing.lanes`).

Every row comes from the integration's mirror mapping, so a bought resource looks exactly like a synced one.
"""

from __future__ import annotations

from typing import Any

from billing.models import Order
from inventory.mirror import Row
from providers import registry


def prepare(order: Order) -> dict[str, Any]:
    return registry.for_product_kind(order.product.kind).prepare(order)


def submit(order: Order) -> list[Row]:
    return registry.for_product_kind(order.product.kind).submit(order)


def find(order: Order) -> list[Row] | None:
    return registry.for_product_kind(order.product.kind).find(order)


def lane(order: Order) -> str:
    return registry.for_product_kind(order.product.kind).lane(order)

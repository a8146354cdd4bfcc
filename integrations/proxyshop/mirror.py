"""What proxy-shop subscriptions become in the mirror, and reading the list the sync keeps."""

from __future__ import annotations

import datetime as dt

from integrations.proxyshop import client as proxyshop
from integrations.proxyshop.kinds import SHOP_SUBSCRIPTION
from inventory.mirror import Row
from inventory.models import ResourceStatus


def shop_subscription_row(subscription: proxyshop.Subscription, now: dt.datetime) -> Row:
    expired = subscription.status == "expired" or subscription.active_until <= now
    return Row(
        kind=SHOP_SUBSCRIPTION,
        upstream_id=subscription.id,
        label=subscription.label,
        status=ResourceStatus.EXPIRED if expired else ResourceStatus.ACTIVE,
        expires_at=subscription.active_until,
        upstream=subscription.raw,
    )


def read_rows(client: proxyshop.Client, now: dt.datetime) -> list[Row]:
    return [shop_subscription_row(subscription, now) for subscription in client.subscriptions()]

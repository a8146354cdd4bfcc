"""What the customer API sends and accepts (pydantic models through ninja), and its opaque seek cursors."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from ninja import Field, Schema

from api.problems import ApiProblem


class CredentialOut(Schema):
    label: str
    value: str
    secret: bool


class ProxyOut(Schema):
    id: int
    kind: str
    kind_label: str
    label: str
    status: str
    expires_at: dt.datetime | None
    data_used_bytes: int | None
    data_limit_bytes: int | None

    @staticmethod
    def resolve_kind_label(resource) -> str:
        # A Resource from a list, or a dict already built by `api.proxies.proxy_detail`.
        return resource["kind_label"] if isinstance(resource, dict) else resource.get_kind_display()


class ProxyDetailOut(ProxyOut):
    credentials: list[CredentialOut]
    proxy_lines: list[str]
    actions: list[str]


class ProxyPage(Schema):
    items: list[ProxyOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last one.")


class UsageOut(Schema):
    id: int
    label: str
    status: str
    data_used_bytes: int | None
    data_limit_bytes: int | None
    usage_fraction: float | None
    expires_at: dt.datetime | None
    last_synced_at: dt.datetime | None


class UsageSampleOut(Schema):
    at: dt.datetime
    bytes_used: int
    bytes_limit: int | None
    resolution: str = Field(description="raw (one sync), hour or day (the last sample of that period)")


class UsageHistoryOut(Schema):
    id: int
    samples: list[UsageSampleOut] = Field(description="Oldest first: hourly for 7 days, daily for a year.")
    bytes_per_day: float | None = Field(None, description="The recent rate, when there are samples to tell it.")
    runs_out_at: dt.datetime | None = Field(None, description="When the data limit is reached at that rate.")


class ActionOut(Schema):
    name: str
    label: str


class ActionResult(Schema):
    status: str = Field(description="`done`, or `unconfirmed` when the provider's answer was lost (check again).")
    message: str
    proxy: ProxyDetailOut


class ProductOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    price_cents: int
    renewal_price_cents: int | None


class OrderOut(Schema):
    id: int
    kind: str
    state: str
    product_id: int
    product_name: str
    resource_id: int | None
    price_cents: int
    discount_cents: int
    message: str
    created_at: dt.datetime
    updated_at: dt.datetime


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None = None


class BalanceOut(Schema):
    balance_cents: int
    currency: str
    balance: str


class LedgerEntryOut(Schema):
    id: int
    kind: str
    amount_cents: int
    note: str
    order_id: int | None
    created_at: dt.datetime


class LedgerPage(Schema):
    items: list[LedgerEntryOut]
    next_cursor: str | None = None


class BuyIn(Schema):
    product_id: int = Field(ge=1)
    expected_price_cents: int | None = Field(
        None, ge=0, description="The price you expect to pay; the order is refused (409) if ours differs."
    )
    coupon: str = Field("", max_length=40)


class RenewIn(Schema):
    expected_price_cents: int | None = Field(None, ge=0)


# Seek pagination: the cursor is the last row's id, wrapped so callers treat it as opaque.


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise ApiProblem(400, "That cursor is not one this API gave out; start again without it.") from None
    if not isinstance(after, int) or isinstance(after, bool):
        raise ApiProblem(400, "That cursor is not one this API gave out; start again without it.")
    return after


def seek_page(rows, *, cursor: str, limit: int, newest_first: bool) -> tuple[list, str | None]:
    """One page of `rows` ordered by id (descending when `newest_first`), after the cursor's row."""
    after = decode_cursor(cursor)
    rows = rows.order_by("-id" if newest_first else "id")
    if after is not None:
        rows = rows.filter(id__lt=after) if newest_first else rows.filter(id__gt=after)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, encode_cursor(page[-1].pk) if more and page else None

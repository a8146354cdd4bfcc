"""What Unknown Proxies tokens become in the mirror, and reading every list the sync keeps."""

from __future__ import annotations

import datetime as dt

from integrations.unknownproxies import client as unknownproxies
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN
from inventory.mirror import Row
from inventory.models import ResourceStatus


def resi_token_row(token: unknownproxies.ResiToken, now: dt.datetime) -> Row:
    # Expired when the upstream says so (its clock, its usage count) or when our clock says so.
    expired = token.status == "expired" or token.is_expired(now)
    return Row(
        kind=RESI_TOKEN,
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
        kind=ISP_TOKEN,
        upstream_id=token.token,
        label=f"{token.region} {token.product} ×{token.quantity}",  # noqa: RUF001 (a multiplication sign, as meant)
        status=status,
        expires_at=token.expires_at,
        data_used_bytes=token.data_usage,
        upstream=token.raw,
    )


def read_rows(client: unknownproxies.Client, now: dt.datetime) -> list[Row]:
    resi = [resi_token_row(token, now) for token in client.list_resi_tokens()]
    return resi + [isp_token_row(token, now) for token in client.list_isp_tokens()]

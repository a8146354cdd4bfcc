"""`Resource.details` reads the mirrored JSON back as the integration's typed object, for every kind we sync."""

from __future__ import annotations

import pytest

from integrations.iproxy import client as iproxy
from integrations.proxyshop import client as proxyshop
from integrations.unknownproxies import client as unknownproxies
from inventory.models import Resource
from inventory.sync import sync_account
from tests.factories import ProviderAccountFactory
from tests.support.accounts import synced_account

TYPES = {
    "resi_token": unknownproxies.ResiToken,
    "isp_token": unknownproxies.IspToken,
    "shop_subscription": proxyshop.Subscription,
    "iproxy_connection": iproxy.Connection,
    "iproxy_access": iproxy.ProxyAccess,
}


@pytest.mark.parametrize("provider_kind", ["unknownproxies", "shop", "iproxy"])
def test_every_synced_resource_reads_back_typed(db, sandbox, provider_kind):
    account = synced_account(provider_kind)
    resources = list(Resource.objects.filter(account=account))
    assert resources
    for resource in resources:
        details = resource.details
        assert isinstance(details, TYPES[resource.kind]), resource
        assert details.raw == resource.upstream or dict(details.raw).items() <= resource.upstream.items()


def test_unreadable_mirrored_json_gives_none_not_an_error(db):
    account = ProviderAccountFactory(kind="shop")
    resource = Resource.objects.create(account=account, kind="shop_subscription", upstream_id="x", upstream={"oops": 1})
    assert resource.details is None


def test_a_residential_token_reads_its_fields(db, sandbox):
    account = ProviderAccountFactory(kind="unknownproxies")
    sync_account(account=account)
    resource = Resource.objects.filter(account=account, kind="resi_token").first()
    token = resource.details
    assert token.username == resource.upstream["username"]
    assert token.data_limit == resource.data_limit_bytes

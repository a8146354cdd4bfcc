"""From the sandbox through sync to alerts: one offline alert per outage of a phone."""

from __future__ import annotations

from integrations.iproxy.kinds import IPROXY_CONNECTION
from inventory.alerts import alerts_check
from inventory.models import Alert, Resource
from inventory.sync import sync_account
from tests.factories import ProviderAccountFactory


def test_one_outage_gives_one_offline_alert_and_the_next_outage_another(sandbox, owner, mailoutbox):
    account = ProviderAccountFactory(kind="iproxy")
    sync_account(account=account)
    phone = Resource.objects.filter(account=account, kind=IPROXY_CONNECTION, status="active").first()
    assert phone is not None

    sandbox.control("connection-status", {"connection_id": phone.upstream_id, "online_status": "offline"})
    sync_account(account=account)
    phone.refresh_from_db()
    assert phone.status == "offline"
    assert phone.upstream["online_status"] == "offline"
    assert phone.upstream["last_online_status_update"]
    alerts_check()
    sandbox.control("clock", {"advance_seconds": 3600})
    sync_account(account=account)
    alerts_check()
    assert Alert.objects.filter(kind="offline", subject=f"resource:{phone.pk}").count() == 1

    sandbox.control("connection-status", {"connection_id": phone.upstream_id, "online_status": "online"})
    sync_account(account=account)
    sandbox.control("clock", {"advance_seconds": 60})
    sandbox.control("connection-status", {"connection_id": phone.upstream_id, "online_status": "offline"})
    sync_account(account=account)
    alerts_check()
    assert Alert.objects.filter(kind="offline", subject=f"resource:{phone.pk}").count() == 2
    assert all(owner.email in message.to + message.bcc for message in mailoutbox)

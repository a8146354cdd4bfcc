"""Staff open a phone's OpenVPN access in a real browser and download its config; the sandbox over real HTTP."""

from __future__ import annotations

import hashlib

from playwright.sync_api import expect

from integrations.iproxy.kinds import IPROXY_CONNECTION
from inventory.models import Resource
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers.registry import client_for_account
from tests.e2e.test_login_flow import sign_in
from tests.factories import ProviderAccountFactory


def test_staff_open_an_openvpn_access_and_download_its_config(page, live_server, live_sandbox, support, tmp_path):
    account = ProviderAccountFactory(
        name="Live iProxy", kind="iproxy", base_url=f"{live_sandbox}/iproxy/api/console/v1"
    )
    assert sync_account(account=account).outcome == "ok"
    phone = Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="online with plan")

    sign_in(page, live_server, "support")
    page.goto(f"{live_server.url}/staff/inventory/iproxy/connections/{phone.pk}/")
    page.get_by_role("navigation", name="This phone").get_by_role("link", name="OpenVPN").click()
    expect(page.get_by_role("heading", name="OpenVPN accesses")).to_be_visible()

    create = page.locator("#ovpn-create")
    create.get_by_text("Open an OpenVPN access").click()
    # A form answered with its errors (400) is swapped in by htmx like any page.
    create.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator("#ovpn-create")).to_contain_text("This field is required.")
    create = page.locator("#ovpn-create")
    create.get_by_label("Name").fill("browser VPN")
    create.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("OpenVPN access “browser VPN” is open")

    row = page.locator("tr[data-ovpn='browser VPN']")
    with page.expect_download() as download_info:
        row.get_by_role("button", name="Download .ovpn").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    config = saved.read_bytes()
    assert saved.suffix == ".ovpn" and config.startswith(b"# browser VPN") and b"\nclient\n" in config

    ovpn = next(o for o in client_for_account(account).list_ovpn_accesses(phone.upstream_id) if o.name == "browser VPN")
    assert download.suggested_filename == f"{phone.upstream_id}-{ovpn.id}.ovpn"
    upstream_sha1 = client_for_account(account).ovpn_config(phone.upstream_id, ovpn.id).sha1
    assert hashlib.sha1(config, usedforsecurity=False).hexdigest() == upstream_sha1
    event = AuditEvent.objects.get(action="iproxy.ovpn.config_download")
    assert event.actor == support and event.data["ovpn"] == ovpn.id

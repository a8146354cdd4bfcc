"""The owner checks provider accounts against the sandbox served over real HTTP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_login_flow import sign_in
from tests.factories import ProviderAccountFactory


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        ("unknownproxies", "/unknownproxies/api/v1", "Connected: 8 residential pools."),
        ("iproxy", "/iproxy/api/console/v1", "Connected as"),
    ],
)
def test_the_owner_checks_an_account_against_the_live_sandbox(
    page, live_server, live_sandbox, owner, kind, path, expected
):
    account = ProviderAccountFactory(name=f"Live {kind}", kind=kind, base_url=live_sandbox + path)
    sign_in(page, live_server, "owner")
    page.get_by_role("navigation").get_by_role("link", name="Providers").click()
    row = page.get_by_role("row").filter(has_text=account.name)
    row.get_by_role("button", name="Check").click()
    expect(page.get_by_role("status")).to_contain_text(expected)
    expect(page.get_by_role("row").filter(has_text=account.name)).to_contain_text("ok")

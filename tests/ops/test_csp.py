"""The one inline style (the brand's colours) is allowed by its nonce, and nothing else inline is."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_brand_style_carries_the_nonce_the_policy_allows(client):
    response = client.get("/accounts/login/")
    policy = response.headers["Content-Security-Policy"]
    style_src = next(part for part in policy.split(";") if part.strip().startswith("style-src"))
    (nonce,) = re.findall(r"'nonce-([^']+)'", style_src)
    assert "unsafe-inline" not in policy
    assert f'<style nonce="{nonce}">' in response.content.decode()

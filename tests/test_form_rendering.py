"""The one form partial: errors of hidden fields and of the whole form are shown, and ids are unique on a page."""

from __future__ import annotations

import html
import re
from collections import Counter

import pytest
from django import forms
from django.template.loader import render_to_string

from integrations.unknownproxies.kinds import UNKNOWN_PROXIES
from inventory.models import Resource
from inventory.sync import sync_account
from tests.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db


class TamperableForm(forms.Form):
    name = forms.CharField()
    step = forms.IntegerField(widget=forms.HiddenInput, error_messages={"invalid": "The step was changed."})

    def clean(self):
        raise forms.ValidationError("The whole form is refused.")


def test_the_partial_shows_hidden_field_and_non_field_errors():
    form = TamperableForm({"name": "x", "step": "not-a-number"})
    assert not form.is_valid()
    rendered = render_to_string("partials/form_fields.html", {"form": form})
    assert "The step was changed." in rendered
    assert "The whole form is refused." in rendered
    assert rendered.count('role="alert"') == 2


def test_a_tampered_hidden_field_on_the_residential_modify_form_comes_back_with_a_message(client, owner, sandbox):
    account = ProviderAccountFactory(kind=UNKNOWN_PROXIES)
    sync_account(account=account)
    resi = Resource.objects.get(account=account, upstream_id="resiPools001")
    client.force_login(owner)
    response = client.post(
        f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/",
        {"data_limit": "9", "duration_hours": "0", "allowed_pools_shown": "tampered"},
    )
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert re.search(r'role="alert">\s*<p>This form was changed outside the page: reload the page and try again.', page)
    assert not sandbox.calls("PATCH")


def test_the_ledger_pages_top_up_and_adjust_forms_have_ids_of_their_own(client, support, customer_a):
    client.force_login(support)
    page = client.get(f"/staff/billing/customers/{customer_a.pk}/").content.decode()
    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    assert [name for name, count in ids.items() if count > 1] == []
    for label_target in re.findall(r'<label for="([^"]+)"', page):
        assert ids[label_target] == 1, label_target
    assert 'for="top-up-amount"' in page and 'for="adjust-amount"' in page


def test_an_invalid_adjustment_still_renders_unique_ids(client, support, customer_a):
    client.force_login(support)
    page = client.post(f"/staff/billing/customers/{customer_a.pk}/adjust/", {"amount": "0", "note": "x"})
    content = page.content.decode()
    assert "An adjustment cannot be zero." in content
    assert max(Counter(re.findall(r'\sid="([^"]+)"', content)).values()) == 1

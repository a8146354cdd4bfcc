"""Signing in sends each role home; each role reaches only its own area."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD
from tests.support.second_factor import enrol


def login(client, user):
    return client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})


@pytest.mark.parametrize(("who", "home"), [("owner", "/staff/"), ("support", "/staff/"), ("alice", "/portal/")])
def test_it_sends_each_role_to_its_home(client, request, who, home):
    user = request.getfixturevalue(who)
    response = login(client, user)
    assert response.status_code == 302
    if user.is_staff_member:  # staff pass the second factor first (tests/accounts/test_second_factor.py)
        assert client.get(response.url).url.startswith(reverse("accounts:second-factor-setup"))
        enrol(client, user)
    follow = client.get(response.url)
    assert follow.status_code == 302
    assert follow.url == home
    assert client.get(home).status_code == 200


def test_it_shows_the_login_page(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Sign in" in response.content


def test_it_rejects_a_wrong_password(client, alice):
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "wrong-password"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_it_refuses_a_login_for_a_suspended_customer(client, alice):
    alice.customer.status = "suspended"
    alice.customer.save()
    response = login(client, alice)
    assert response.status_code == 200
    assert b"This customer account is suspended" in response.content


def test_a_customer_never_reaches_the_staff_area(client, alice):
    client.force_login(alice)
    assert client.get("/staff/").status_code == 403
    assert client.get("/staff/customers/").status_code == 403


def test_staff_do_not_use_the_portal(client, support):
    client.force_login(support)
    assert client.get("/portal/").status_code == 403


def test_an_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_support_cannot_open_the_admin_site_but_the_owner_can(client, support, owner):
    client.force_login(support)
    assert client.get("/admin/").status_code == 302  # sent to the admin login
    client.force_login(owner)
    assert client.get("/admin/").status_code == 200


def test_logout_needs_a_post(client, alice):
    client.force_login(alice)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert client.get("/portal/").status_code == 302


def test_it_emails_a_working_password_reset_link(client, alice):
    client.post(reverse("accounts:password_reset"), {"email": alice.email})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    path = link.split("testserver", 1)[1]
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand-new-pass-4321", "new_password2": "brand-new-pass-4321"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("brand-new-pass-4321")


def test_it_changes_the_password(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": "another-pass-5678", "new_password2": "another-pass-5678"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another-pass-5678")


def test_it_locks_out_after_repeated_failures(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("accounts:login"), {"username": "alice", "password": "nope-nope"})
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many sign-in attempts" in response.content


def test_the_staff_page_renders_navigation_for_the_role(client, owner, support):
    client.force_login(owner)
    assert b'href="/admin/"' in client.get("/staff/").content
    client.force_login(support)
    assert b'href="/admin/"' not in client.get("/staff/").content


def test_htmx_is_served_from_the_installed_package(client, alice):
    client.force_login(alice)
    page = client.get("/portal/").content.decode()
    assert "/static/django_htmx/htmx-2.min.js" in page
    assert 'hx-headers=\'{"X-CSRFToken": "' in page


def test_a_suspension_ends_portal_access_for_open_sessions(client, alice):
    client.force_login(alice)
    assert client.get("/portal/").status_code == 200
    alice.customer.status = "suspended"
    alice.customer.save()
    response = client.get("/portal/")
    assert response.status_code == 403
    assert b"please contact support" in response.content

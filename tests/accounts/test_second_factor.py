"""Two-step sign-in: staff must pass an authenticator code (or a recovery code) on /staff/ and /admin/;
customers may turn it on; wrong codes are throttled and count towards django-axes' lock-out."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ops.models import AuditEvent
from tests.factories import PASSWORD
from tests.support.second_factor import app_code, enrol

SETUP = "/accounts/2fa/"
VERIFY = "/accounts/2fa/verify/"


def sign_in(client, user):
    response = client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return response


def sign_out(client):
    client.post(reverse("accounts:logout"))


@pytest.fixture
def enrolled_owner(client, owner):
    """The owner with an app and recovery codes, signed out again; yields (owner, recovery codes)."""
    sign_in(client, owner)
    codes = enrol(client, owner)
    sign_out(client)
    return owner, codes


@pytest.mark.parametrize("who", ["owner", "support"])
def test_staff_without_an_app_are_sent_to_set_one_up(client, request, who):
    user = request.getfixturevalue(who)
    sign_in(client, user)
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.url == f"{SETUP}?next=%2Fstaff%2F"
    page = client.get(response.url)
    assert page.status_code == 200
    content = page.content.decode()
    assert "<svg" in content and "Scan with your app" in content  # the QR code, inline
    assert "<script" not in content.split("<svg", 1)[1].split("</svg>", 1)[0]


def test_enrolment_turns_the_app_on_shows_recovery_codes_and_opens_the_staff_area(client, support):
    sign_in(client, support)
    codes = enrol(client, support, next_url="/staff/")
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=support).confirmed
    assert client.get("/staff/").status_code == 200
    assert AuditEvent.objects.filter(action="second_factor.enrol", actor=support).exists()


def test_a_wrong_first_code_leaves_the_app_off(client, support):
    sign_in(client, support)
    client.get(SETUP)
    response = client.post(SETUP, {"code": "000000"})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=support, confirmed=True).exists()
    assert client.get("/staff/").status_code == 302


def test_the_secret_stays_the_same_until_the_app_is_confirmed(client, support):
    sign_in(client, support)
    first = client.get(SETUP).context["secret"]
    assert client.get(SETUP).context["secret"] == first


def test_staff_with_an_app_are_asked_for_a_code(client, enrolled_owner):
    owner, _ = enrolled_owner
    sign_in(client, owner)
    response = client.get("/staff/")
    assert response.url == f"{VERIFY}?next=%2Fstaff%2F"
    assert client.get(response.url).status_code == 200
    response = client.post(VERIFY, {"code": app_code(TOTPDevice.objects.get(user=owner)), "next": "/staff/"})
    assert response.status_code == 302
    assert response.url == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_the_admin_site_needs_the_code_too(client, enrolled_owner):
    owner, _ = enrolled_owner
    sign_in(client, owner)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith(VERIFY)
    client.post(VERIFY, {"code": app_code(TOTPDevice.objects.get(user=owner))})
    assert client.get("/admin/").status_code == 200


def test_a_recovery_code_signs_in_once(client, enrolled_owner):
    owner, codes = enrolled_owner
    sign_in(client, owner)
    response = client.post(VERIFY, {"code": codes[0].upper(), "next": "/staff/"})
    assert response.url == "/staff/"
    assert client.get("/staff/").status_code == 200
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    assert AuditEvent.objects.filter(action="second_factor.recovery_code_used").count() == 1
    sign_out(client)
    sign_in(client, owner)
    response = client.post(VERIFY, {"code": codes[0], "next": "/staff/"})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()


def test_a_wrong_code_shows_a_message_and_keeps_the_staff_area_closed(client, enrolled_owner):
    owner, _ = enrolled_owner
    sign_in(client, owner)
    response = client.post(VERIFY, {"code": "123 456"})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert client.get("/staff/").status_code == 302


def test_codes_right_after_a_wrong_one_are_throttled(client, enrolled_owner, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 600
    settings.OTP_STATIC_THROTTLE_FACTOR = 600
    owner, codes = enrolled_owner
    sign_in(client, owner)
    client.post(VERIFY, {"code": "999999"})
    for code in (app_code(TOTPDevice.objects.get(user=owner)), codes[1]):
        response = client.post(VERIFY, {"code": code})
        assert response.status_code == 200
        assert "Too many wrong codes" in response.content.decode()
    assert client.get("/staff/").status_code == 302


def test_wrong_codes_count_towards_the_axes_lock_out(client, enrolled_owner, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    owner, _ = enrolled_owner
    sign_in(client, owner)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(VERIFY, {"code": "999999"}).status_code == 200
    response = client.post(VERIFY, {"code": "999999"})
    assert response.status_code == 429
    assert b"Too many sign-in attempts" in response.content
    assert client.get("/staff/").status_code == 302  # signed out
    response = client.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 429


def test_an_unverified_user_cannot_replace_the_app(client, enrolled_owner):
    owner, _ = enrolled_owner
    sign_in(client, owner)
    response = client.get(SETUP)
    assert response.status_code == 302
    assert response.url.startswith(VERIFY)


def test_the_next_address_never_leaves_the_site(client, enrolled_owner):
    owner, _ = enrolled_owner
    sign_in(client, owner)
    device = TOTPDevice.objects.get(user=owner)
    response = client.post(VERIFY, {"code": app_code(device), "next": "https://evil.example/"})
    assert response.url == reverse("accounts:home")


def test_staff_renew_recovery_codes_and_the_old_ones_stop_working(client, enrolled_owner):
    owner, old = enrolled_owner
    sign_in(client, owner)
    client.post(VERIFY, {"code": app_code(TOTPDevice.objects.get(user=owner))})
    assert "Recovery codes left: <strong>10</strong>" in client.get(SETUP).content.decode()
    new = client.post(reverse("accounts:second-factor-recovery-codes")).context["codes"]
    assert set(new).isdisjoint(old)
    assert set(StaticToken.objects.filter(device__user=owner).values_list("token", flat=True)) == set(new)


def test_staff_cannot_turn_the_second_factor_off(client, owner):
    client.force_login(owner)
    assert client.post(reverse("accounts:second-factor-disable")).status_code == 403


def test_a_customer_needs_no_code_until_they_turn_it_on(client, alice):
    sign_in(client, alice)
    assert client.get("/portal/").status_code == 200
    codes = enrol(client, alice)
    assert client.get("/portal/").status_code == 200
    sign_out(client)
    sign_in(client, alice)
    response = client.get("/portal/")
    assert response.url == f"{VERIFY}?next=%2Fportal%2F"
    client.post(VERIFY, {"code": codes[0]})
    assert client.get("/portal/").status_code == 200
    client.post(reverse("accounts:second-factor-disable"))
    sign_out(client)
    sign_in(client, alice)
    assert client.get("/portal/").status_code == 200


def test_force_login_in_tests_passes_the_second_factor(client, owner, support):
    client.force_login(owner)
    assert client.get("/staff/").status_code == 200
    assert client.get("/admin/").status_code == 200
    client.force_login(support)
    assert client.get("/staff/").status_code == 200


def test_an_htmx_request_that_owes_a_code_sends_the_whole_page_to_the_code_step(client, enrolled_owner):
    owner, _ = enrolled_owner
    sign_in(client, owner)
    response = client.get("/staff/customers/?q=a", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(VERIFY)

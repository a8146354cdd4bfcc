"""Unknown Proxies' validation rules and expiry arithmetic, case by case and as properties."""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.unknownproxies import rules
from providers.http.rules import RuleViolation

GB = rules.GB
ASCII_ALNUM = string.ascii_letters + string.digits
# Letters and digits plus look-alikes the provider refuses: punctuation, spaces and non-ASCII letters.
MIXED_ALPHABET = ASCII_ALNUM + "-_.! äßé١"


def messages(violations: list[RuleViolation]) -> list[str]:
    return [str(violation) for violation in violations]


@pytest.mark.parametrize(
    ("value", "current", "message"),
    [
        (GB, None, None),
        (GB - 1, None, "dataLimit: must be at least 1,000,000,000 bytes (1 GB)"),
        (1_000_000, None, "dataLimit: must be at least 1,000,000,000 bytes (1 GB)"),
        (2 * GB, None, None),
        (GB + 1, None, "dataLimit: must be a whole number of gigabytes (a multiple of 1,000,000,000 bytes)"),
        (GB + GB // 2, None, "dataLimit: must be a whole number of gigabytes (a multiple of 1,000,000,000 bytes)"),
        (5 * GB, 5 * GB, None),
        (6 * GB, 5 * GB, None),
        (4 * GB, 5 * GB, "dataLimit: cannot be lowered below the current limit of 5,000,000,000 bytes"),
        (float(GB), None, "dataLimit: must be a whole number of bytes"),
        (True, None, "dataLimit: must be a whole number of bytes"),
        ("1000000000", None, "dataLimit: must be a whole number of bytes"),
        (None, None, "dataLimit: must be a whole number of bytes"),
    ],
)
def test_it_checks_the_data_limit(value, current, message):
    assert messages(rules.data_limit(value, current=current)) == ([message] if message else [])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, None),
        (1, None),
        (87_600, None),
        (87_601, "durationHours: must be between 0 and 87600 hours (10 years)"),
        (-1, "durationHours: must be between 0 and 87600 hours (10 years)"),
        (1.5, "durationHours: must be a whole number of hours"),
        (False, "durationHours: must be a whole number of hours"),
    ],
)
def test_it_checks_the_duration(value, message):
    assert messages(rules.duration_hours(value)) == ([message] if message else [])


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("abcd1234", True),
        ("ABCDEFGH", True),
        ("12345678", True),
        ("abcd123", False),
        ("abcd12345", False),
        ("abcd-123", False),
        ("abcd 123", False),
        ("äbcd1234", False),
        ("", False),
        (12345678, False),
    ],
)
def test_it_accepts_only_eight_letters_or_digits_as_a_residential_username(value, accepted):
    expected = [] if accepted else ["username: must be exactly 8 letters or digits"]
    assert messages(rules.resi_username(value)) == expected


@pytest.mark.parametrize(
    ("value", "known", "message"),
    [
        ([], {"us-s"}, None),
        (["us-s"], {"us-s", "gb-r"}, None),
        (["us-s", "gb-r"], {"us-s", "gb-r"}, None),
        (["xx-x"], {"us-s", "gb-r"}, "allowedPools: unknown pool 'xx-x'; known pools: gb-r, us-s"),
        (["xx-x"], None, None),
        ("us-s", {"us-s"}, "allowedPools: must be a list of pool ids"),
        ([""], {"us-s"}, "allowedPools: must be a list of pool ids"),
        ([1], {"us-s"}, "allowedPools: must be a list of pool ids"),
    ],
)
def test_it_checks_allowed_pools_against_the_known_pools(value, known, message):
    assert messages(rules.allowed_pools(value, known)) == ([message] if message else [])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], None),
        (["1.2.3.4"], None),
        (["1.2.3.4", "5.6.7.8", "9.10.11.12", "13.14.15.16"], None),
        (["1.2.3.4", "5.6.7.8", "9.10.11.12", "13.14.15.16", "1.1.1.1"], "at most 4 addresses are allowed"),
        (["256.1.1.1"], "'256.1.1.1' is not an IPv4 address"),
        (["::1"], "'::1' is not an IPv4 address"),
        (["1.2.3"], "'1.2.3' is not an IPv4 address"),
        ("1.2.3.4", "must be a list of IPv4 addresses"),
    ],
)
def test_it_checks_authenticated_ips(value, message):
    expected = [f"authenticatedIps: {message}"] if message else []
    assert messages(rules.authenticated_ips(value)) == expected


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("abcd", True), ("abcdefghijk1", True), ("abc", False), ("abcdefghijk12", False), ("abc!", False), (None, False)],
)
@pytest.mark.parametrize("field", ["username", "password"])
def test_it_accepts_four_to_twelve_letters_or_digits_as_isp_credentials(field, value, accepted):
    expected = [] if accepted else [f"{field}: must be 4 to 12 letters or digits"]
    assert messages(rules.isp_credential(value, field)) == expected


def test_it_never_repeats_a_refused_password_in_the_message():
    [violation] = rules.isp_credential("hunter!2secret", "password")
    assert "hunter" not in str(violation)


@pytest.mark.parametrize(
    ("rule", "good", "bad", "message"),
    [
        (rules.auth_type, ["user", "ip"], ["pass", "USER", None], 'authType: must be "user" or "ip"'),
        (rules.proxy_type, ["http", "socks"], ["https", "socks5", None], 'proxyType: must be "http" or "socks"'),
    ],
)
def test_it_accepts_only_the_documented_choices(rule, good, bad, message):
    for value in good:
        assert rule(value) == []
    for value in bad:
        assert messages(rule(value)) == [message]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("active", None),
        ("processing", "status: only active tokens can be modified; this one is processing"),
        ("expired", "status: only active tokens can be modified; this one is expired"),
    ],
)
def test_it_allows_modifying_only_active_isp_tokens(status, message):
    assert messages(rules.isp_token_modifiable(status)) == ([message] if message else [])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"dataLimit": GB}, []),
        ({"dataLimit": GB, "username": "abcd1234", "durationHours": 87_600}, []),
        ({"dataLimit": GB, "password": "abcd1234"}, ["password: is generated by the provider and cannot be set"]),
        ({}, ["dataLimit: must be a whole number of bytes"]),
        (
            {"dataLimit": GB - 1, "username": "short"},
            ["dataLimit: must be at least 1,000,000,000 bytes (1 GB)", "username: must be exactly 8 letters or digits"],
        ),
    ],
)
def test_it_checks_a_residential_create_body(body, expected):
    assert messages(rules.create_resi_token(body)) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"token": "t", "durationHours": 0}, []),
        ({"token": "t", "allowedPools": []}, []),
        ({"token": "t"}, ["give at least one field to change: allowedPools, dataLimit or durationHours"]),
        (
            {"token": "t", "password": "abcd1234"},
            [
                "password: cannot be modified on a residential token",
                "give at least one field to change: allowedPools, dataLimit or durationHours",
            ],
        ),
        ({"durationHours": 1}, ["token: is required"]),
        (
            {"token": "t", "dataLimit": 4 * GB},
            ["dataLimit: cannot be lowered below the current limit of 5,000,000,000 bytes"],
        ),
        ({"token": "t", "allowedPools": ["mars"]}, ["allowedPools: unknown pool 'mars'; known pools: us-s"]),
    ],
)
def test_it_checks_a_residential_modify_body(body, expected):
    assert messages(rules.modify_resi_token(body, known_pools={"us-s"}, current_data_limit=5 * GB)) == expected


def test_the_modify_rule_sets_the_empty_field_so_forms_show_it_on_top():
    [violation] = rules.modify_resi_token({"token": "t"}, known_pools=None)
    assert violation.field == ""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, []),
        ({"quantity": 0}, ["quantity: must be a whole number between 1 and 1000"]),
        ({"quantity": 1001}, ["quantity: must be a whole number between 1 and 1000"]),
        ({"region": ""}, ["region: is required"]),
        ({"product": None}, ["product: is required"]),
        ({"proxyType": "https"}, ['proxyType: must be "http" or "socks"']),
        ({"authType": "key"}, ['authType: must be "user" or "ip"']),
        ({"durationHours": 87_601}, ["durationHours: must be between 0 and 87600 hours (10 years)"]),
    ],
)
def test_it_checks_an_isp_create_body(change, expected):
    body = {"region": "US", "product": "TICK", "quantity": 1, "proxyType": "http", "authType": "user"}
    body["durationHours"] = 720
    assert messages(rules.create_isp_token({**body, **change})) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"token": "t", "proxyType": "socks"}, []),
        ({"token": "t", "authenticatedIps": []}, []),
        (
            {"token": "t"},
            ["give at least one field to change: authType, authenticatedIps, proxyType, username or password"],
        ),
        ({"token": "t", "username": "ab"}, ["username: must be 4 to 12 letters or digits"]),
        ({"token": "t", "password": "a" * 13}, ["password: must be 4 to 12 letters or digits"]),
    ],
)
def test_it_checks_an_isp_modify_body(body, expected):
    assert messages(rules.modify_isp_token(body)) == expected


@pytest.mark.parametrize(
    ("body", "fields", "expected"),
    [
        ({"token": "t", "proxyType": "socks"}, rules.ISP_MODIFIABLE_FIELDS, []),
        # The values are the field rules' business, not the request's.
        ({"token": "t", "username": "ab"}, rules.ISP_MODIFIABLE_FIELDS, []),
        ({"token": "t", "dataLimit": 1}, rules.RESI_MODIFIABLE_FIELDS, []),
        (
            {"token": "t"},
            rules.ISP_MODIFIABLE_FIELDS,
            ["give at least one field to change: authType, authenticatedIps, proxyType, username or password"],
        ),
        (
            {"token": "t", "proxyType": "socks"},
            rules.RESI_MODIFIABLE_FIELDS,
            ["give at least one field to change: allowedPools, dataLimit or durationHours"],
        ),
        ({"token": "", "proxyType": "socks"}, rules.ISP_MODIFIABLE_FIELDS, ["token: is required"]),
    ],
)
def test_it_checks_a_modify_request_as_a_whole(body, fields, expected):
    assert messages(rules.modify_request(body, fields)) == expected


@pytest.mark.parametrize("body", [{}, {"token": "t"}, {"token": "t", "authType": "key", "password": "ab"}])
def test_the_isp_modify_rule_starts_with_the_request_rule(body):
    whole = rules.modify_isp_token(body)
    assert whole[: len(rules.modify_request(body, rules.ISP_MODIFIABLE_FIELDS))] == rules.modify_request(
        body, rules.ISP_MODIFIABLE_FIELDS
    )


# Expiry arithmetic ----------------------------------------------------------------------------


def test_a_zero_duration_never_expires_by_time():
    assert rules.expires_at(1_752_251_968, 0) is None
    assert not rules.is_time_expired(1_752_251_968, 0, now=10**12)


def test_it_expires_duration_hours_after_creation():
    created = 1_752_251_968
    assert rules.expires_at(created, 750) == created + 750 * 3600
    assert not rules.is_time_expired(created, 750, now=created + 750 * 3600 - 1)
    assert rules.is_time_expired(created, 750, now=created + 750 * 3600)


@pytest.mark.parametrize(
    ("usage", "limit", "exhausted"),
    [(GB - 1, GB, False), (GB, GB, True), (GB + 1, GB, True), (10**15, None, False)],
)
def test_it_runs_out_of_data_at_the_limit(usage, limit, exhausted):
    assert rules.is_data_exhausted(usage, limit) is exhausted


@pytest.mark.parametrize(
    ("usage", "now_offset", "expired"),
    [(0, 0, False), (GB, 0, True), (0, 3600, True), (GB, 3600, True)],
)
def test_a_token_is_expired_when_either_limit_is_reached(usage, now_offset, expired):
    created = 1_000_000
    result = rules.is_expired(
        created_at=created, duration_hours=1, data_usage=usage, data_limit=GB, now=created + now_offset
    )
    assert result is expired


# Properties --------------------------------------------------------------------------------------


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_the_data_limit_rule_accepts_exactly_whole_gigabytes_from_one(value):
    assert (rules.data_limit(value) == []) == (value >= GB and value % GB == 0)


@given(st.integers(min_value=GB, max_value=10**13), st.integers(min_value=1, max_value=10**4))
def test_the_data_limit_rule_never_accepts_less_than_the_current_limit(value, current_gb):
    current = current_gb * GB
    accepted = rules.data_limit(value, current=current) == []
    assert accepted == (value % GB == 0 and value >= current)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_the_duration_rule_accepts_exactly_zero_to_ten_years(value):
    assert (rules.duration_hours(value) == []) == (0 <= value <= 87_600)


@given(st.text(alphabet=MIXED_ALPHABET, max_size=14))
def test_the_residential_username_rule_accepts_exactly_eight_ascii_letters_or_digits(value):
    expected = len(value) == 8 and all(char in ASCII_ALNUM for char in value)
    assert (rules.resi_username(value) == []) == expected


@given(st.text(alphabet=MIXED_ALPHABET, max_size=16))
def test_the_isp_credential_rule_accepts_exactly_four_to_twelve_ascii_letters_or_digits(value):
    expected = 4 <= len(value) <= 12 and all(char in ASCII_ALNUM for char in value)
    assert (rules.isp_credential(value, "password") == []) == expected


addresses = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.text(alphabet="0123456789.", max_size=16),
)


@given(st.lists(addresses, max_size=6))
def test_the_ip_rule_accepts_exactly_up_to_four_ipv4_addresses(values):
    def is_ipv4(value: str) -> bool:
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return False
        return True

    expected = len(values) <= 4 and all(is_ipv4(value) for value in values)
    assert (rules.authenticated_ips(values) == []) == expected


@given(
    st.integers(min_value=0, max_value=2 * 10**9),
    st.integers(min_value=0, max_value=87_600),
    st.integers(min_value=0, max_value=2 * 10**9),
)
def test_time_expiry_happens_exactly_at_created_plus_duration(created, hours, elapsed):
    now = created + elapsed
    expected = hours > 0 and elapsed >= hours * 3600
    assert rules.is_time_expired(created, hours, now) is expected

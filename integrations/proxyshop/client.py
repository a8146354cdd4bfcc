"""Client of the white-label proxy shop API (single endpoint `/api/proxy`, see provider-api/003)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from integrations.proxyshop import rules
from providers.http import errors
from providers.http.base import BaseClient, redact_in_transport_logs
from providers.http.parsing import Reader
from providers.http.rules import raise_for

# The rotate link changes the IP without the API key: keep it out of DEBUG transport logs.
ROTATE_PATH_MARKER = "/r/"
redact_in_transport_logs(ROTATE_PATH_MARKER, "<rotate link>")

PROVIDER = "shop"
ENDPOINT = "api/proxy"

# Upstream 400 messages name the wire field; our errors name the Python argument.
_WIRE_FIELDS = (
    ("planId", "plan_id"),
    ("subscriptionId", "subscription_id"),
    ("targetNetwork", "target_network"),
    ("rotationPolicy", "rotation_policy"),
    ("repeatCount", "repeat_count"),
    ("quantity", "quantity"),
    ("couponCode", "coupon_code"),
)
_OP_WORD = re.compile(r"\bop\b")


# Results -------------------------------------------------------------------


@dataclass(frozen=True)
class PlanNetwork:
    name: str
    city: str
    country: str
    network_type: str


@dataclass(frozen=True)
class Plan:
    id: str
    connection_type: str
    duration: dt.timedelta
    price_cents: int
    popular: bool
    network: PlanNetwork
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class RenewalPlan:
    id: str
    connection_type: str
    duration: dt.timedelta
    price_cents: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Network:
    """A network a subscription can switch to (`available-networks`)."""

    id: str
    network_label: str
    country: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Protocols:
    """Connection URLs; they embed the password, so they stay out of repr."""

    http: str | None = field(default=None, repr=False)
    socks5: str | None = field(default=None, repr=False)
    vless: str | None = field(default=None, repr=False)
    shadowsocks: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Rotate:
    """The rotate link changes the exit IP without the API key (the link is the secret): out of repr."""

    rotate_path: str | None = field(repr=False)
    available: bool


@dataclass(frozen=True)
class Subscription:
    """One subscription; purchase answers may omit the note, policy, credentials, protocols and rotate."""

    id: str
    status: str
    active_until: dt.datetime
    label: str
    network_label: str
    user_note: str | None = None
    rotation_policy: int | None = None
    credentials: Credentials | None = None
    protocols: Protocols | None = None
    rotate: Rotate | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def current_ip(self) -> str | None:
        """The exit IP when the answer names one: `currentIp`, an extra the sandbox adds (not in the docs)."""
        return self.raw.get("currentIp")


@dataclass(frozen=True)
class PurchaseResult:
    subscription_ids: tuple[str, ...]
    subscriptions: tuple[Subscription, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class RenewResult:
    subscription_id: str
    end_at: dt.datetime
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class RotateResult:
    """What following a rotate link answered: the new exit IP when the answer names one."""

    ip: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class NewCredentials:
    password: str = field(repr=False)
    vpn: str = field(repr=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


# Parsing: each takes a decoded answer body ----------------------------------


def _top(body: Any, operation: str) -> Reader:
    """The answer object, refused unless it says `"ok": true` (a 200 with `ok: false` is not a success)."""
    reader = Reader(body, provider=PROVIDER, operation=operation)
    if reader.bool("ok") is not True:
        detail = reader.data.get("error") or reader.data.get("message")
        raise reader.error(f'the answer said "ok": false with a success status ({detail or "no message"})')
    return reader


def _plan(item: Reader) -> Plan:
    network = item.object("network")
    return Plan(
        id=item.str("id"),
        connection_type=item.str("connectionType"),
        duration=dt.timedelta(milliseconds=item.int("durationMs")),
        price_cents=item.int("priceAmountCents"),
        popular=item.bool("popular", False),
        network=PlanNetwork(
            name=network.str("name"),
            city=network.str("city"),
            country=network.str("country"),
            network_type=network.str("networkType"),
        ),
        raw=dict(item.data),
    )


def _renewal_plan(item: Reader) -> RenewalPlan:
    return RenewalPlan(
        id=item.str("id"),
        connection_type=item.str("connectionType"),
        duration=dt.timedelta(milliseconds=item.int("durationMs")),
        price_cents=item.int("priceAmountCents"),
        raw=dict(item.data),
    )


def _subscription(item: Reader) -> Subscription:
    credentials = item.object("credentials", None)
    protocols = item.object("protocols", None)
    rotate = item.object("rotate", None)
    return Subscription(
        id=item.str("subscriptionId"),
        status=item.str("status"),
        active_until=item.unix_millis("activeUntil"),
        label=item.str("label"),
        network_label=item.str("networkLabel"),
        user_note=item.str("userNote", None),
        rotation_policy=item.int("rotationPolicy", None),
        credentials=None
        if credentials is None
        else Credentials(username=credentials.str("username"), password=credentials.str("password")),
        protocols=None
        if protocols is None
        else Protocols(
            http=protocols.str("http", None),
            socks5=protocols.str("socks5", None),
            vless=protocols.str("vless", None),
            shadowsocks=protocols.str("shadowsocks", None),
        ),
        rotate=None
        if rotate is None
        else Rotate(rotate_path=rotate.str("rotatePath", None), available=rotate.bool("available")),
        raw=dict(item.data),
    )


def parse_plans(body: Any) -> list[Plan]:
    return [_plan(item) for item in _top(body, "plans").objects("plans")]


def parse_subscription(data: Any, *, operation: str = "mirror") -> Subscription:
    """One subscription object, e.g. as the mirror keeps it."""
    return _subscription(Reader(data, provider=PROVIDER, operation=operation))


def parse_subscriptions(body: Any) -> list[Subscription]:
    return [_subscription(item) for item in _top(body, "subscriptions").objects("subscriptions")]


def parse_renewal_plans(body: Any) -> list[RenewalPlan]:
    return [_renewal_plan(item) for item in _top(body, "renewal-plans").objects("renewalPlans")]


def parse_networks(body: Any) -> list[Network]:
    return [
        Network(
            id=item.str("id"), network_label=item.str("networkLabel"), country=item.str("country"), raw=dict(item.data)
        )
        for item in _top(body, "available-networks").objects("networks")
    ]


def parse_purchase(body: Any, operation: str = "purchase") -> PurchaseResult:
    """Accepts both documented shapes: `subscriptions` (a list) or, for one, `subscription`."""
    top = _top(body, operation)
    if "subscriptions" in top.data:
        items = top.objects("subscriptions")
    elif "subscription" in top.data:
        items = [top.object("subscription")]
    else:
        raise top.error("missing field subscription or subscriptions")
    subscriptions = tuple(_subscription(item) for item in items)
    if "subscriptionIds" in top.data:
        ids = tuple(top.str_list("subscriptionIds"))
    else:
        ids = tuple(subscription.id for subscription in subscriptions)
    if not ids:
        raise top.error("the answer lists no subscription")
    return PurchaseResult(subscription_ids=ids, subscriptions=subscriptions, raw=dict(top.data))


def parse_renew(body: Any) -> RenewResult:
    top = _top(body, "renew")
    return RenewResult(subscription_id=top.str("subscriptionId"), end_at=top.unix_millis("endAt"), raw=dict(top.data))


def parse_change_credentials(body: Any) -> NewCredentials:
    top = _top(body, "change-credentials")
    return NewCredentials(password=top.str("password"), vpn=top.str("vpn"), raw=dict(top.data))


def parse_switch_network(body: Any) -> Subscription:
    return _subscription(_top(body, "switch-network").object("subscription"))


def parse_rotate(body: Any) -> RotateResult:
    """Lenient on purpose: the rotate link's answer is undocumented, and once it arrives the IP has changed.

    So an answer that is not an object, says `"ok": false` or has no string `ip` is still a rotation
    done: it gives `ip=None` instead of raising MalformedResponseError.
    """
    if not isinstance(body, dict):
        return RotateResult(ip=None, raw={})
    reader = Reader(body, provider=PROVIDER, operation="rotate")
    try:
        ip = reader.str("ip", None)
    except errors.MalformedResponseError:
        ip = None
    return RotateResult(ip=ip, raw=dict(reader.data))


# The client ----------------------------------------------------------------


class Client(BaseClient):
    """`Client(base_url, api_key)`; `base_url` is the shop's root (the endpoint is `<base_url>/api/proxy`)."""

    provider = PROVIDER

    def __init__(self, base_url: str, api_key: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._api_key = api_key

    def _prepare(self, headers: dict[str, str]) -> None:
        headers["x-api-key"] = self._api_key

    def _error_for_status(self, status: int, message: str, *, operation: str, body: Any) -> errors.ProviderError:
        kwargs: dict[str, Any] = {"provider": self.provider, "operation": operation, "status": status}
        lowered = message.lower()
        if status == 400:
            if "coupon" in lowered:
                return errors.CouponRejectedError(message, field="coupon_code", **kwargs)
            return errors.InvalidRequestError(message, field=_field_named_in(message), **kwargs)
        if status == 403 and operation == "trial":
            return errors.TrialNotEnabledError(message, **kwargs)
        if status == 409:
            # One status, three situations a staff member handles differently: tell them apart by message.
            if "rotation" in lowered:
                return errors.RotationUnavailableError(message, **kwargs)
            if "sold out" in lowered or ("inactive" in lowered and ("plan" in lowered or "network" in lowered)):
                return errors.SoldOutError(message, **kwargs)
            return errors.ConflictError(message, **kwargs)
        return super()._error_for_status(status, message, operation=operation, body=body)

    def _get(self, op: str, **params: str) -> Any:
        return self._request("GET", ENDPOINT, operation=op, params={"op": op, **params})

    def _post(self, op: str, **fields: Any) -> Any:
        body = {"op": op, **{key: value for key, value in fields.items() if value is not None}}
        return self._request("POST", ENDPOINT, operation=op, json_body=body)

    def _check(self, violations: list[rules.RuleViolation], operation: str) -> None:
        raise_for(violations, provider=self.provider, operation=operation)

    # Reads (retried on 429/5xx by the base) ----------------------------------

    def plans(self) -> list[Plan]:
        """Available plans: `GET /api/proxy?op=plans`."""
        return parse_plans(self._get("plans"))

    def subscriptions(self) -> list[Subscription]:
        """Active subscriptions: `GET /api/proxy?op=subscriptions`."""
        return parse_subscriptions(self._get("subscriptions"))

    def renewal_plans(self, subscription_id: str) -> list[RenewalPlan]:
        """Renewal plans: `GET /api/proxy?op=renewal-plans&subscriptionId=…`."""
        self._check(rules.subscription_violations(subscription_id=subscription_id), "renewal-plans")
        return parse_renewal_plans(self._get("renewal-plans", subscriptionId=subscription_id))

    def available_networks(self, subscription_id: str) -> list[Network]:
        """Available networks: `GET /api/proxy?op=available-networks&subscriptionId=…`."""
        self._check(rules.subscription_violations(subscription_id=subscription_id), "available-networks")
        return parse_networks(self._get("available-networks", subscriptionId=subscription_id))

    # Writes (sent once: a lost answer raises UnknownOutcomeError) -------------

    def purchase(
        self, plan_id: str, *, coupon_code: str | None = None, repeat_count: int = 1, quantity: int = 1
    ) -> PurchaseResult:
        """Purchase subscription: `POST /api/proxy {"op": "purchase", …}`; charges the shop balance."""
        self._check(
            rules.purchase_violations(
                plan_id=plan_id, coupon_code=coupon_code, repeat_count=repeat_count, quantity=quantity
            ),
            "purchase",
        )
        answer = self._post(
            "purchase", planId=plan_id, couponCode=coupon_code, repeatCount=repeat_count, quantity=quantity
        )
        return parse_purchase(answer)

    def trial(self, plan_id: str) -> PurchaseResult:
        """Trial issuance (Introduction): `POST /api/proxy {"op": "trial", "planId": …}`.

        Only some API keys may: a 403 raises TrialNotEnabledError. The answer is undocumented;
        we read it like a purchase answer.
        """
        self._check(rules.trial_violations(plan_id=plan_id), "trial")
        return parse_purchase(self._post("trial", planId=plan_id), "trial")

    def renew(
        self, subscription_id: str, plan_id: str, *, coupon_code: str | None = None, repeat_count: int = 1
    ) -> RenewResult:
        """Renew subscription: `POST /api/proxy {"op": "renew", …}`; charges the shop balance."""
        self._check(
            rules.renew_violations(
                subscription_id=subscription_id, plan_id=plan_id, coupon_code=coupon_code, repeat_count=repeat_count
            ),
            "renew",
        )
        answer = self._post(
            "renew", subscriptionId=subscription_id, planId=plan_id, couponCode=coupon_code, repeatCount=repeat_count
        )
        return parse_renew(answer)

    def change_credentials(self, subscription_id: str) -> NewCredentials:
        """Change connection credentials: `POST /api/proxy {"op": "change-credentials", …}`."""
        self._check(rules.subscription_violations(subscription_id=subscription_id), "change-credentials")
        return parse_change_credentials(self._post("change-credentials", subscriptionId=subscription_id))

    def set_rotation_policy(self, subscription_id: str, minutes: int) -> None:
        """Set auto-rotation policy: `POST /api/proxy {"op": "set-rotation-policy", …}`; 0 disables it."""
        self._check(
            rules.set_rotation_policy_violations(subscription_id=subscription_id, rotation_policy=minutes),
            "set-rotation-policy",
        )
        _top(
            self._post("set-rotation-policy", subscriptionId=subscription_id, rotationPolicy=minutes),
            "set-rotation-policy",
        )

    def switch_network(self, subscription_id: str, target_network: str) -> Subscription:
        """Change connection network: `POST /api/proxy {"op": "switch-network", …}`."""
        self._check(
            rules.switch_network_violations(subscription_id=subscription_id, target_network=target_network),
            "switch-network",
        )
        answer = self._post("switch-network", subscriptionId=subscription_id, targetNetwork=target_network)
        return parse_switch_network(answer)

    def follow_rotate_path(self, rotate_path: str) -> RotateResult:
        """Change the exit IP now: `GET <base_url><rotatePath>`, without the API key.

        `rotatePath` is the `rotate` object of a subscription (provider-api/003, "Active
        subscriptions": `"rotate": {"rotatePath": "/r/abcd1234", "available": true}`); the document
        does not describe following it, so its answer (`{"ok": true, "ip": …}` in our sandbox twin)
        is read by `parse_rotate`. The path is the link's only credential, so it is a secret: the
        transport log shows `<rotate link>` instead. The GET changes state, so it is sent once and
        a lost answer raises UnknownOutcomeError.
        """
        self._check(rules.rotate_path_violations(rotate_path), "rotate")
        return parse_rotate(self._request("GET", rotate_path, operation="rotate", authenticated=False, safe=False))


def _field_named_in(message: str) -> str | None:
    for wire, name in _WIRE_FIELDS:
        if wire in message:
            return name
    return "op" if _OP_WORD.search(message) else None

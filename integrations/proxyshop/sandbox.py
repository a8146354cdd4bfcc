"""Sandbox twin of the white-label proxy shop: `/shop/api/proxy` ops, balance, coupons, expiry and rotate links.

Decisions where the document is silent (each in one place here):
- Keys: `rk_sandbox` (trial disabled: `trial` answers 403) and `rk_sandbox_trial` (trial enabled); both
  reach the same account. A trial is free, lasts `TRIAL_DURATION` and answers like a one-item purchase.
- `subscriptions` lists expired subscriptions too, with status "expired". Reads never answer 409.
- `renew` works on an expired subscription (the document says "existing", not "active"; renewal runs from
  the later of now and the current end); change-credentials, set-rotation-policy and switch-network on an
  expired subscription answer 409.
- Renewal plans of a subscription: the non-inactive plans of its network and connection type.
- Each subscription's exit IP is the sandbox-only extra field `currentIp`; the rotate link
  `GET /shop/r/<id>` (no API key: the link is the secret) changes it and answers `{"ok": true, "ip": …}`.
  An auto-rotation policy of N minutes changes it every N minutes of sandbox time.
- Coupons are matched exactly (case-sensitive); `SPRING20` exists but has expired.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import string
import uuid
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from integrations.proxyshop import rules
from providers.http.rules import RuleViolation
from providers.sandbox.core import ProviderSim, SandboxError, json_response

# API key → whether it may issue trials.
API_KEYS = {"rk_sandbox": False, "rk_sandbox_trial": True}
TRIAL_DURATION = dt.timedelta(days=1)
STARTING_BALANCE_CENTS = 50_000
PROXY_HOST = "proxy.sandbox.test"
FIRST_PORT = 12001
DAY_MS = 86_400_000

# The gateway's documented 400 messages, by the rule field that failed.
_INVALID = {
    "plan_id": "Missing or invalid planId",
    "subscription_id": "Missing or invalid subscriptionId",
    "target_network": "Missing or invalid targetNetwork",
    "rotation_policy": "Missing or invalid rotationPolicy",
    "repeat_count": "Invalid repeatCount or quantity",
    "quantity": "Invalid repeatCount or quantity",
    "coupon_code": "Missing or invalid couponCode",
}
EXPIRED = "Invalid subscription state: subscription has expired"
ROTATION_UNAVAILABLE = "Rotation policy not available for this subscription"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_PASSWORD_ALPHABET = string.ascii_letters + string.digits
_NOT_JSON = object()


@dataclass
class _Network:
    id: str
    name: str
    city: str
    country: str
    network_type: str
    ip_prefix: str
    active: bool = True

    @property
    def label(self) -> str:
        return f"{self.name} {self.city}"


@dataclass
class _Plan:
    id: str
    network_id: str
    connection_type: str
    days: int
    price_cents: int
    rotation: bool
    popular: bool = False
    status: str = "active"  # "active", "sold_out" or "inactive"

    @property
    def duration(self) -> dt.timedelta:
        return dt.timedelta(days=self.days)


@dataclass
class _Subscription:
    id: str
    network_id: str
    connection_type: str
    port: int
    active_until: dt.datetime
    user_note: str
    rotation_policy: int
    rotate_available: bool
    rotate_id: str
    username: str
    password: str
    vpn: str
    ip_seed: int
    rotations: int
    last_rotation_at: dt.datetime


# The demo catalogue: (id, name, city, country, type, IP prefix, active).
_NETWORKS = [
    ("netnlams", "NL-AMS", "Amsterdam", "NL", "mobile", "203.0.113", True),
    ("netdeber", "DE-BER", "Berlin", "DE", "mobile", "198.51.100", True),
    ("netusnyc", "US-NYC", "New York", "US", "residential", "192.0.2", True),
    ("netfrpar", "FR-PAR", "Paris", "FR", "mobile", "100.64.7", False),
]
# (id, network, connection type, days, price cents, rotation, popular, status).
_PLANS = [
    ("nlams30private", "netnlams", "private", 30, 1200, True, True, "active"),
    ("nlams90private", "netnlams", "private", 90, 3300, True, False, "active"),
    ("nlams7shared", "netnlams", "shared", 7, 300, False, False, "active"),
    ("deber30private", "netdeber", "private", 30, 1500, False, False, "active"),
    ("usnyc30private", "netusnyc", "private", 30, 2500, True, False, "sold_out"),
    ("frpar30private", "netfrpar", "private", 30, 900, True, False, "inactive"),
]
# (id, plan, time left, note, rotation policy).
_SUBSCRIPTIONS = [
    ("subnlrotating", "nlams30private", dt.timedelta(days=20), "Client A", 10),
    ("subdestatic", "deber30private", dt.timedelta(days=25), "Client B", 0),
    ("subnlexpiring", "nlams7shared", dt.timedelta(hours=2), "", 0),
    ("subnlexpired", "nlams30private", dt.timedelta(days=-3), "Client C", 0),
]


class ProxyShopSim(ProviderSim):
    name = "shop"
    prefixes = ("/shop",)

    def reset(self, rng: random.Random, options: dict[str, Any]) -> None:
        self.rng = rng
        now = self._now()
        self.balance_cents = STARTING_BALANCE_CENTS
        self.networks = {row[0]: _Network(*row) for row in _NETWORKS}
        self.plans = {row[0]: _Plan(*row) for row in _PLANS}
        # code → (percent off, expires at or None).
        self.coupons: dict[str, tuple[int, dt.datetime | None]] = {
            "WELCOME10": (10, None),
            "SPRING20": (20, now - dt.timedelta(days=1)),
        }
        self.next_port = FIRST_PORT
        self.subscriptions: dict[str, _Subscription] = {}
        for sub_id, plan_id, left, note, policy in _SUBSCRIPTIONS:
            subscription = self._create(self.plans[plan_id], now + left, sub_id=sub_id)
            subscription.user_note = note
            subscription.rotation_policy = policy

    def set_balance(self, amount_cents: int) -> bool:
        self.balance_cents = amount_cents
        return True

    def set_plan_price(self, plan_id: str, price_cents: int) -> bool:
        plan = self.plans.get(plan_id)
        if plan is None:
            return False
        plan.price_cents = price_cents
        return True

    # Routing ---------------------------------------------------------------

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response({"ok": False, "error": message}, status=status, headers=headers)

    def fault_target(self, request: Request, subpath: str) -> str:
        """A fault rule matches the op ("POST purchase", "GET plans"); other paths match themselves."""
        if subpath == "/api/proxy":
            if request.method == "GET":
                op = request.args.get("op")
            else:
                body = _loads(request.get_data())
                op = body.get("op") if isinstance(body, dict) else None
            if isinstance(op, str) and op:
                return op
        return subpath

    def handle(self, request: Request, prefix: str, subpath: str) -> Response:
        if subpath.startswith("/r/") and request.method == "GET":
            return self._rotate_link(subpath.removeprefix("/r/"))
        if subpath != "/api/proxy":
            raise SandboxError(404, "Not found")
        if request.method not in ("GET", "POST"):
            raise SandboxError(405, "Method not allowed")
        key = request.headers.get("x-api-key")
        if key not in API_KEYS:
            raise SandboxError(401, "Unauthorized")
        if request.method == "GET":
            params: dict[str, Any] = request.args.to_dict()
            reads = {
                "plans": self._plans,
                "subscriptions": self._subscriptions,
                "renewal-plans": self._renewal_plans,
                "available-networks": self._available_networks,
            }
            handler = reads.get(params.get("op", ""))
            if handler is None:
                raise SandboxError(400, "Missing or unknown op")
            return json_response({"ok": True, **handler(params)})
        body = _loads(request.get_data())
        if body is _NOT_JSON:
            raise SandboxError(400, "Invalid JSON body")
        if not isinstance(body, dict):
            raise SandboxError(400, "Body must be an object")
        writes = {
            "purchase": self._purchase,
            "trial": lambda body: self._trial(body, trial_enabled=API_KEYS[key]),
            "renew": self._renew,
            "change-credentials": self._change_credentials,
            "set-rotation-policy": self._set_rotation_policy,
            "switch-network": self._switch_network,
        }
        op = body.get("op")
        handler = writes.get(op) if isinstance(op, str) else None
        if handler is None:
            raise SandboxError(400, "Missing or unknown op")
        return json_response({"ok": True, **handler(body)})

    # Reads -----------------------------------------------------------------

    def _plans(self, params: dict[str, Any]) -> dict[str, Any]:
        # "Returns active proxy plans": a sold-out plan is still listed, an inactive one is not.
        return {"plans": [self._plan_json(plan) for plan in self.plans.values() if plan.status != "inactive"]}

    def _subscriptions(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"subscriptions": [self._subscription_json(sub) for sub in self.subscriptions.values()]}

    def _renewal_plans(self, params: dict[str, Any]) -> dict[str, Any]:
        subscription = self._find(params.get("subscriptionId"))
        return {"renewalPlans": [self._renewal_plan_json(plan) for plan in self._renewal_plans_for(subscription)]}

    def _available_networks(self, params: dict[str, Any]) -> dict[str, Any]:
        subscription = self._find(params.get("subscriptionId"))
        networks = [
            {"id": network.id, "networkLabel": network.label, "country": network.country}
            for network in self.networks.values()
            if network.active and network.id != subscription.network_id
        ]
        return {"networks": networks}

    # Writes ----------------------------------------------------------------

    def _purchase(self, body: dict[str, Any]) -> dict[str, Any]:
        repeat_count, quantity = body.get("repeatCount", 1), body.get("quantity", 1)
        _refuse(
            rules.purchase_violations(
                plan_id=body.get("planId"),
                coupon_code=body.get("couponCode"),
                repeat_count=repeat_count,
                quantity=quantity,
            )
        )
        plan = self._plan_for_sale(body["planId"])
        percent = self._coupon_percent(body.get("couponCode"))
        self._charge(rules.purchase_price_cents(plan.price_cents, repeat_count, quantity, percent))
        end = rules.purchase_end(self._now(), plan.duration, repeat_count)
        return self._created([self._create(plan, end) for _ in range(quantity)])

    def _trial(self, body: dict[str, Any], *, trial_enabled: bool) -> dict[str, Any]:
        _refuse(rules.trial_violations(plan_id=body.get("planId")))
        if not trial_enabled:
            raise SandboxError(403, "Trial is not enabled for this API key")
        plan = self._plan_for_sale(body["planId"])
        return self._created([self._create(plan, self._now() + TRIAL_DURATION)])

    def _renew(self, body: dict[str, Any]) -> dict[str, Any]:
        repeat_count = body.get("repeatCount", 1)
        _refuse(
            rules.renew_violations(
                subscription_id=body.get("subscriptionId"),
                plan_id=body.get("planId"),
                coupon_code=body.get("couponCode"),
                repeat_count=repeat_count,
            )
        )
        subscription = self._find(body["subscriptionId"])
        plan = next((p for p in self._renewal_plans_for(subscription) if p.id == body["planId"]), None)
        if plan is None:
            raise SandboxError(400, _INVALID["plan_id"])
        percent = self._coupon_percent(body.get("couponCode"))
        self._charge(rules.renewal_price_cents(plan.price_cents, repeat_count, percent))
        subscription.active_until = rules.renewed_end(
            subscription.active_until, self._now(), plan.duration, repeat_count
        )
        return {"subscriptionId": subscription.id, "endAt": _millis(subscription.active_until)}

    def _change_credentials(self, body: dict[str, Any]) -> dict[str, Any]:
        _refuse(rules.subscription_violations(subscription_id=body.get("subscriptionId")))
        subscription = self._find_active(body["subscriptionId"])
        subscription.password = self._password()
        subscription.vpn = self._vpn()
        return {"password": subscription.password, "vpn": subscription.vpn}

    def _set_rotation_policy(self, body: dict[str, Any]) -> dict[str, Any]:
        _refuse(
            rules.set_rotation_policy_violations(
                subscription_id=body.get("subscriptionId"), rotation_policy=body.get("rotationPolicy")
            )
        )
        subscription = self._find_active(body["subscriptionId"])
        if not subscription.rotate_available:
            raise SandboxError(409, ROTATION_UNAVAILABLE)
        self._settle(subscription)
        subscription.rotation_policy = body["rotationPolicy"]
        subscription.last_rotation_at = self._now()
        return {}

    def _switch_network(self, body: dict[str, Any]) -> dict[str, Any]:
        _refuse(
            rules.switch_network_violations(
                subscription_id=body.get("subscriptionId"), target_network=body.get("targetNetwork")
            )
        )
        subscription = self._find_active(body["subscriptionId"])
        network = self.networks.get(body["targetNetwork"])
        if network is None:
            raise SandboxError(400, _INVALID["target_network"])
        if not network.active:
            raise SandboxError(409, "Network is inactive")
        if network.id == subscription.network_id:
            raise SandboxError(409, "Invalid subscription state: already on this network")
        subscription.network_id = network.id
        # A new network is a new exit IP.
        subscription.ip_seed = self.rng.randrange(254)
        subscription.rotations = 0
        subscription.last_rotation_at = self._now()
        return {"subscription": self._subscription_json(subscription)}

    def _rotate_link(self, rotate_id: str) -> Response:
        subscription = next(
            (s for s in self.subscriptions.values() if s.rotate_available and s.rotate_id == rotate_id), None
        )
        if subscription is None:
            raise SandboxError(404, "Not found")
        if rules.is_expired(subscription.active_until, self._now()):
            raise SandboxError(409, EXPIRED)
        self._settle(subscription)
        subscription.rotations += 1
        subscription.last_rotation_at = self._now()
        return json_response({"ok": True, "ip": self._ip(subscription)})

    # State helpers ---------------------------------------------------------

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now(), tz=dt.UTC)

    def _find(self, subscription_id: Any) -> _Subscription:
        _refuse(rules.subscription_violations(subscription_id=subscription_id))
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise SandboxError(404, "Subscription not found")
        return subscription

    def _find_active(self, subscription_id: str) -> _Subscription:
        subscription = self._find(subscription_id)
        if rules.is_expired(subscription.active_until, self._now()):
            raise SandboxError(409, EXPIRED)
        return subscription

    def _plan_for_sale(self, plan_id: str) -> _Plan:
        plan = self.plans.get(plan_id)
        if plan is None:
            raise SandboxError(400, _INVALID["plan_id"])
        if plan.status == "sold_out":
            raise SandboxError(409, "Plan is sold out")
        if plan.status == "inactive":
            raise SandboxError(409, "Plan is inactive")
        if not self.networks[plan.network_id].active:
            raise SandboxError(409, "Network is inactive")
        return plan

    def _renewal_plans_for(self, subscription: _Subscription) -> list[_Plan]:
        return [
            plan
            for plan in self.plans.values()
            if plan.status != "inactive"
            and plan.network_id == subscription.network_id
            and plan.connection_type == subscription.connection_type
        ]

    def _coupon_percent(self, code: str | None) -> int:
        """The discount for a coupon; unknown or expired is refused before anything is charged."""
        if code is None:
            return 0
        if code not in self.coupons:
            raise SandboxError(400, "Unknown coupon code")
        percent, expires_at = self.coupons[code]
        if expires_at is not None and expires_at <= self._now():
            raise SandboxError(400, "Coupon code has expired")
        return percent

    def _charge(self, amount_cents: int) -> None:
        if amount_cents > self.balance_cents:
            raise SandboxError(402, "Insufficient balance")
        self.balance_cents -= amount_cents

    def _create(self, plan: _Plan, active_until: dt.datetime, *, sub_id: str | None = None) -> _Subscription:
        subscription = _Subscription(
            id=sub_id or "".join(self.rng.choices(_ID_ALPHABET, k=24)),
            network_id=plan.network_id,
            connection_type=plan.connection_type,
            port=self.next_port,
            active_until=active_until,
            user_note="",
            rotation_policy=0,
            rotate_available=plan.rotation,
            rotate_id="".join(self.rng.choices(_ID_ALPHABET, k=12)),
            username="u_" + "".join(self.rng.choices(_ID_ALPHABET, k=6)),
            password=self._password(),
            vpn=self._vpn(),
            ip_seed=self.rng.randrange(254),
            rotations=0,
            last_rotation_at=self._now(),
        )
        self.next_port += 1
        self.subscriptions[subscription.id] = subscription
        return subscription

    def _created(self, subscriptions: list[_Subscription]) -> dict[str, Any]:
        """The purchase answer: `subscription` for one, `subscriptions` for many (both documented)."""
        ids = [subscription.id for subscription in subscriptions]
        items = [self._subscription_json(subscription) for subscription in subscriptions]
        answer: dict[str, Any] = {"subscriptionId": ids[0], "subscriptionIds": ids}
        if len(items) == 1:
            answer["subscription"] = items[0]
        else:
            answer["subscriptions"] = items
        return answer

    def _settle(self, subscription: _Subscription) -> None:
        """Apply the auto-rotations the policy made since the last rotation (lazily, by the sandbox clock)."""
        if not subscription.rotate_available or not subscription.rotation_policy:
            return
        now = min(self._now(), subscription.active_until)
        period = dt.timedelta(minutes=subscription.rotation_policy)
        turns = (now - subscription.last_rotation_at) // period
        if turns > 0:
            subscription.rotations += turns
            subscription.last_rotation_at += period * turns

    def _ip(self, subscription: _Subscription) -> str:
        prefix = self.networks[subscription.network_id].ip_prefix
        # 37 is coprime with 254, so each rotation lands on a different address.
        return f"{prefix}.{(subscription.ip_seed + subscription.rotations * 37) % 254 + 1}"

    def _password(self) -> str:
        return "".join(self.rng.choices(_PASSWORD_ALPHABET, k=8))

    def _vpn(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # Answers ---------------------------------------------------------------

    @staticmethod
    def _renewal_plan_json(plan: _Plan) -> dict[str, Any]:
        return {
            "id": plan.id,
            "connectionType": plan.connection_type,
            "durationMs": plan.days * DAY_MS,
            "priceAmountCents": plan.price_cents,
        }

    def _plan_json(self, plan: _Plan) -> dict[str, Any]:
        network = self.networks[plan.network_id]
        return {
            **self._renewal_plan_json(plan),
            "popular": plan.popular,
            "network": {
                "name": network.name,
                "city": network.city,
                "country": network.country,
                "networkType": network.network_type,
            },
        }

    def _subscription_json(self, subscription: _Subscription) -> dict[str, Any]:
        self._settle(subscription)
        network = self.networks[subscription.network_id]
        user, password, port = subscription.username, subscription.password, subscription.port
        expired = rules.is_expired(subscription.active_until, self._now())
        return {
            "subscriptionId": subscription.id,
            "status": "expired" if expired else "active",
            "activeUntil": _millis(subscription.active_until),
            "userNote": subscription.user_note,
            "rotationPolicy": subscription.rotation_policy,
            "label": f"{port} - {network.country} - {subscription.connection_type.title()}",
            "networkLabel": network.label,
            "credentials": {"username": user, "password": password},
            "protocols": {
                "http": f"http://{user}:{password}@{PROXY_HOST}:{port}",
                "socks5": f"socks5://{user}:{password}@{PROXY_HOST}:{port}",
                "vless": f"vless://{subscription.vpn}@{PROXY_HOST}:{port}?type=tcp#{user}",
                "shadowsocks": f"ss://chacha20-ietf-poly1305:{password}@{PROXY_HOST}:{port}#{user}",
            },
            "rotate": {
                "rotatePath": f"/r/{subscription.rotate_id}" if subscription.rotate_available else None,
                "available": subscription.rotate_available,
            },
            "currentIp": self._ip(subscription),
        }


def _refuse(violations: list[RuleViolation]) -> None:
    """Answer the gateway's documented 400 for the first broken rule."""
    if violations:
        raise SandboxError(400, _INVALID[violations[0].field])


def _loads(data: bytes) -> Any:
    """The decoded JSON body, or `_NOT_JSON`."""
    try:
        return json.loads(data)
    except ValueError:
        return _NOT_JSON


def _millis(moment: dt.datetime) -> int:
    return round(moment.timestamp() * 1000)

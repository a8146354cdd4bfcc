"""Sandbox twin of the Unknown Proxies API: residential and ISP tokens that follow the sandbox clock and usage.

Paths and list shapes come from the client module and validation from the rules module, so the twin
and the client cannot drift apart. Statuses are derived on every read from the clock and the usage.
"""

from __future__ import annotations

import hmac
import random
import string
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from integrations.unknownproxies import rules
from integrations.unknownproxies.client import ENDPOINTS, POOLS_KEY, TOKENS_KEY
from providers.http.rules import RuleViolation, is_int
from providers.sandbox.core import ProviderSim, SandboxError, json_response

ACCOUNT_USERNAME = "sandbox"
ACCOUNT_PASSWORD = "sandbox-pass"
# README decision: ISP tokens are created processing and become active 10 minutes later.
ISP_ACTIVATION_SECONDS = 600
POOLS = (
    ("us-s", "United States, sticky"),
    ("us-r", "United States, rotating"),
    ("tickets-us-s", "Tickets United States, sticky"),
    ("tickets-us-r", "Tickets United States, rotating"),
    ("ca-s", "Canada, sticky"),
    ("ca-r", "Canada, rotating"),
    ("gb-s", "United Kingdom, sticky"),
    ("gb-r", "United Kingdom, rotating"),
)
POOL_IDS = frozenset(pool_id for pool_id, _ in POOLS)
ALPHANUMERIC = string.ascii_letters + string.digits
TOKEN_LENGTH = 12
RESI_PASSWORD_LENGTH = 8
# The ISP response example shows 10-character credentials.
ISP_CREDENTIAL_LENGTH = 10
HOUR = 3600
DAY = 24 * HOUR

# Demo residential tokens: (token, username, data limit GB, usage bytes, durationHours, created seconds ago, pools).
DEMO_RESI = (
    ("resiActive01", "demoAct1", 100, 11_574_848_653, 720, 10 * DAY, []),
    ("resiPools001", "demoPool", 5, 0, 0, 2 * DAY, ["us-s", "gb-r"]),
    ("resiAlmost01", "demoSoon", 2, 1_900_000_000, 48, 47 * HOUR, []),
    ("resiExpTime1", "demoExpT", 10, 2_000_000_000, 24, 3 * DAY, []),
    ("resiExpData1", "demoExpD", 1, 1_000_000_000, 0, 20 * DAY, []),
)
# Demo ISP tokens: (token, username, authType, IPs, proxyType, region, product, quantity, durationHours, created ago).
DEMO_ISP = (
    ("ispActive001", "demoIsp1", "user", [], "http", "US", "TICK", 2, 720, 5 * DAY),
    ("ispIpAuth001", "demoIsp2", "ip", ["203.0.113.7", "198.51.100.20"], "socks", "GB", "ISP", 1, 0, 30 * DAY),
    ("ispProcess01", "demoIsp3", "user", [], "http", "US", "TICK", 3, 720, 2 * 60),
    ("ispExpTime01", "demoIsp4", "user", [], "http", "CA", "ISP", 1, 24, 2 * DAY),
)


@dataclass(slots=True)
class ResiState:
    token: str
    username: str
    password: str
    duration_hours: int
    created_at: int
    updated_at: int
    data_usage: int
    data_limit: int
    allowed_pools: list[str]

    def status(self, now: float) -> str:
        expired = rules.is_expired(
            created_at=self.created_at,
            duration_hours=self.duration_hours,
            data_usage=self.data_usage,
            data_limit=self.data_limit,
            now=now,
        )
        return rules.STATUS_EXPIRED if expired else rules.STATUS_ACTIVE

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "token": self.token,
            "username": self.username,
            "authType": "user",
            "password": self.password,
            "durationHours": self.duration_hours,
            "status": self.status(now),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "dataUsage": self.data_usage,
            "dataLimit": self.data_limit,
            "allowedPools": list(self.allowed_pools),
        }


@dataclass(slots=True)
class IspState:
    token: str
    username: str
    password: str
    auth_type: str
    proxy_type: str
    authenticated_ips: list[str]
    proxies: list[str]
    duration_hours: int
    created_at: int
    updated_at: int
    data_usage: int
    region: str
    product: str
    quantity: int

    def status(self, now: float) -> str:
        if now < self.created_at + ISP_ACTIVATION_SECONDS:
            return rules.STATUS_PROCESSING
        if rules.is_time_expired(self.created_at, self.duration_hours, now):
            return rules.STATUS_EXPIRED
        return rules.STATUS_ACTIVE

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "token": self.token,
            "username": self.username,
            "authType": self.auth_type,
            "password": self.password,
            "proxyType": self.proxy_type,
            "authenticatedIps": list(self.authenticated_ips),
            "proxies": list(self.proxies),
            "durationHours": self.duration_hours,
            "status": self.status(now),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "dataUsage": self.data_usage,
            "region": self.region,
            "product": self.product,
            "quantity": self.quantity,
        }


def _check(violations: list[RuleViolation]) -> None:
    # Same wording as the client's raise_for, so a refusal reads the same on both sides.
    if violations:
        raise SandboxError(400, "; ".join(str(violation) for violation in violations))


class UnknownProxiesSim(ProviderSim):
    name = "unknownproxies"
    prefixes = ("/unknownproxies/api/v1",)

    def reset(self, rng: random.Random, options: dict[str, Any]) -> None:
        self.rng = rng
        self.resi: dict[str, ResiState] = {}
        self.isp: dict[str, IspState] = {}
        now = int(self.now())
        for token, username, limit_gb, usage, hours, age, pools in DEMO_RESI:
            created = now - age
            self.resi[token] = ResiState(
                token=token,
                username=username,
                password=self._random(RESI_PASSWORD_LENGTH),
                duration_hours=hours,
                created_at=created,
                updated_at=created,
                data_usage=usage,
                data_limit=limit_gb * rules.GB,
                allowed_pools=list(pools),
            )
        for token, username, auth, ips, proxy, region, product, quantity, hours, age in DEMO_ISP:
            created = now - age
            self.isp[token] = IspState(
                token=token,
                username=username,
                password=self._random(ISP_CREDENTIAL_LENGTH),
                auth_type=auth,
                proxy_type=proxy,
                authenticated_ips=list(ips),
                proxies=self._proxies(quantity),
                duration_hours=hours,
                created_at=created,
                updated_at=created,
                data_usage=rng.randrange(50 * rules.GB) if age > ISP_ACTIVATION_SECONDS else 0,
                region=region,
                product=product,
                quantity=quantity,
            )
        count = options.get("tokens")
        if is_int(count) and count > 0:
            self._bulk_resi(count, now)

    def _bulk_resi(self, count: int, now: int) -> None:
        """Benchmark inventories: `count` more residential tokens in a mix of states, built in one pass."""
        rng = self.rng
        durations = (0, 24, 168, 720, 2160)
        length = TOKEN_LENGTH + rules.RESI_USERNAME_LENGTH + RESI_PASSWORD_LENGTH
        while count:
            # One draw for token, username and password keeps 100,000 tokens within a second or two.
            text = "".join(rng.choices(ALPHANUMERIC, k=length))
            token = text[:TOKEN_LENGTH]
            if token in self.resi:
                continue
            limit = rng.randint(1, 100) * rules.GB
            created = now - rng.randrange(90 * DAY)
            self.resi[token] = ResiState(
                token=token,
                username=text[TOKEN_LENGTH : TOKEN_LENGTH + rules.RESI_USERNAME_LENGTH],
                password=text[TOKEN_LENGTH + rules.RESI_USERNAME_LENGTH :],
                duration_hours=rng.choice(durations),
                created_at=created,
                updated_at=created,
                # Up to 110% of the limit, so about one in eleven has run out of data.
                data_usage=rng.randrange(limit * 11 // 10),
                data_limit=limit,
                allowed_pools=[],
            )
            count -= 1

    def _random(self, length: int) -> str:
        return "".join(self.rng.choices(ALPHANUMERIC, k=length))

    def _new_token(self) -> str:
        while True:
            token = self._random(TOKEN_LENGTH)
            if token not in self.resi and token not in self.isp:
                return token

    def _proxies(self, quantity: int) -> list[str]:
        rng = self.rng
        return [
            f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}:"
            f"{rng.randint(10000, 65535)}"
            for _ in range(quantity)
        ]

    def add_usage(self, token: str, amount: int) -> bool:
        found = self.resi.get(token) or self.isp.get(token)
        if found is None:
            return False
        found.data_usage += amount
        return True

    # HTTP -----------------------------------------------------------------------------

    def handle(self, request: Request, prefix: str, subpath: str) -> Response:
        self._authenticate(request)
        allowed = [name for name, (_, path) in ENDPOINTS.items() if path == subpath]
        if not allowed:
            raise SandboxError(404, f"no such endpoint: {subpath}")
        for name in allowed:
            if ENDPOINTS[name][0] == request.method:
                return json_response(getattr(self, f"_{name}")(request))
        raise SandboxError(405, f"{request.method} is not allowed on {subpath}")

    @staticmethod
    def _authenticate(request: Request) -> None:
        auth = request.authorization
        valid = (
            auth is not None
            and auth.type == "basic"
            and hmac.compare_digest(auth.username or "", ACCOUNT_USERNAME)
            & hmac.compare_digest(auth.password or "", ACCOUNT_PASSWORD)
        )
        if not valid:
            raise SandboxError(401, "Invalid credentials")

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        body = request.get_json(force=True)
        if not isinstance(body, dict):
            raise SandboxError(400, "the body must be a JSON object")
        return body

    @staticmethod
    def _find(tokens: dict[str, Any], token: Any) -> Any:
        _check(rules.token(token))
        if token not in tokens:
            raise SandboxError(404, "Token not found")
        return tokens[token]

    # Residential

    def _create_resi_token(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        _check(rules.create_resi_token(body))
        now = int(self.now())
        state = ResiState(
            token=self._new_token(),
            username=body.get("username") or self._random(rules.RESI_USERNAME_LENGTH),
            password=self._random(RESI_PASSWORD_LENGTH),
            duration_hours=body.get("durationHours", 0),
            created_at=now,
            updated_at=now,
            data_usage=0,
            data_limit=body["dataLimit"],
            allowed_pools=[],
        )
        self.resi[state.token] = state
        return state.to_json(now)

    def _modify_resi_token(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        state: ResiState = self._find(self.resi, body.get("token"))
        _check(rules.modify_resi_token(body, known_pools=POOL_IDS, current_data_limit=state.data_limit))
        now = int(self.now())
        state.data_limit = body.get("dataLimit", state.data_limit)
        state.duration_hours = body.get("durationHours", state.duration_hours)
        state.allowed_pools = list(body.get("allowedPools", state.allowed_pools))
        state.updated_at = now
        return state.to_json(now)

    def _get_resi_token(self, request: Request) -> dict[str, Any]:
        return self._find(self.resi, request.args.get("token")).to_json(self.now())

    def _list_resi_tokens(self, request: Request) -> dict[str, Any]:
        now = self.now()
        return {TOKENS_KEY: [state.to_json(now) for state in self.resi.values()]}

    def _list_pools(self, request: Request) -> dict[str, Any]:
        return {POOLS_KEY: [{"id": pool_id, "name": name} for pool_id, name in POOLS]}

    # ISP

    def _create_isp_token(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        _check(rules.create_isp_token(body))
        now = int(self.now())
        state = IspState(
            token=self._new_token(),
            username=self._random(ISP_CREDENTIAL_LENGTH),
            password=self._random(ISP_CREDENTIAL_LENGTH),
            auth_type=body["authType"],
            proxy_type=body["proxyType"],
            authenticated_ips=list(rules.DEFAULT_AUTHENTICATED_IPS) if body["authType"] == "ip" else [],
            proxies=self._proxies(body["quantity"]),
            duration_hours=body["durationHours"],
            created_at=now,
            updated_at=now,
            data_usage=0,
            region=body["region"],
            product=body["product"],
            quantity=body["quantity"],
        )
        self.isp[state.token] = state
        return state.to_json(now)

    def _modify_isp_token(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        state: IspState = self._find(self.isp, body.get("token"))
        _check(rules.modify_isp_token(body))
        now = int(self.now())
        conflict = rules.isp_token_modifiable(state.status(now))
        if conflict:
            raise SandboxError(409, conflict[0].message)
        switching_to_ip = body.get("authType") == "ip" and state.auth_type != "ip"
        state.auth_type = body.get("authType", state.auth_type)
        if "authenticatedIps" in body:
            state.authenticated_ips = list(body["authenticatedIps"])
        # Document 000: under ip auth, an empty or (when switching) absent list becomes ["1.1.1.1"].
        # Username and password are kept as they are, so switching back to user auth works at once.
        if state.auth_type == "ip" and (
            not state.authenticated_ips or (switching_to_ip and "authenticatedIps" not in body)
        ):
            state.authenticated_ips = list(rules.DEFAULT_AUTHENTICATED_IPS)
        state.proxy_type = body.get("proxyType", state.proxy_type)
        state.username = body.get("username", state.username)
        state.password = body.get("password", state.password)
        state.updated_at = now
        return state.to_json(now)

    def _get_isp_token(self, request: Request) -> dict[str, Any]:
        return self._find(self.isp, request.args.get("token")).to_json(self.now())

    def _list_isp_tokens(self, request: Request) -> dict[str, Any]:
        now = self.now()
        return {TOKENS_KEY: [state.to_json(now) for state in self.isp.values()]}

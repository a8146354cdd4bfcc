"""The sandbox WSGI app: routing to each provider's simulator, the clock, faults and control endpoints.

Each provider simulator subclasses `ProviderSim`; the core owns what they share: the
clock, a lock around all state, fault rules, and the `/_sandbox/*` control endpoints.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Request, Response

# Longer than any client's read timeout: a `timeout` fault holds the request this long.
TIMEOUT_HOLD_SECONDS = 65.0


class SandboxTimeout(Exception):
    """Raised by a `timeout` fault; the HTTP server holds the connection, `responses` raises ReadTimeout."""


class SandboxLostResponse(Exception):
    """Raised after a change was applied; the HTTP server drops the connection, `responses` raises ConnectionError."""


class SandboxError(Exception):
    """A documented error answer: each provider renders it in its own body shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers, mimetype="application/json")


class Clock:
    """Wall-clock time plus an offset that `/_sandbox/clock` moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class FaultRule:
    provider: str
    method: str
    target: str
    kind: str
    times: int
    ms: int = 0
    status: int = 500
    retry_after: int = 1

    KINDS: ClassVar[frozenset[str]] = frozenset({"latency", "status", "rate_limit", "timeout", "lost_response"})

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if not isinstance(data, dict):
            raise SandboxError(400, "each fault rule must be an object")
        kind = data.get("kind")
        if kind not in cls.KINDS:
            raise SandboxError(400, f"kind must be one of {sorted(cls.KINDS)}")
        method, _, target = str(data.get("match", "*")).partition(" ")
        times = data.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise SandboxError(400, "times must be a positive integer")
        rule = cls(
            provider=str(data.get("provider", "*")),
            method=method.upper() or "*",
            target=target.strip(),
            kind=kind,
            times=times,
        )
        for key in ("ms", "status", "retry_after"):
            if key in data:
                value = data[key]
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise SandboxError(400, f"{key} must be a non-negative integer")
                setattr(rule, key, value)
        return rule

    def matches(self, provider: str, method: str, target: str) -> bool:
        if self.provider not in ("*", provider):
            return False
        if self.method not in ("*", method):
            return False
        return not self.target or target.startswith(self.target)


class ProviderSim:
    """One upstream API. Subclasses set `name` and `prefixes` and implement `reset` and `handle`."""

    name: ClassVar[str] = ""
    prefixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, sandbox: SandboxApp) -> None:
        self.sandbox = sandbox

    def now(self) -> float:
        return self.sandbox.clock.now()

    def reset(self, rng: random.Random, options: dict[str, Any]) -> None:
        raise NotImplementedError

    def fault_target(self, request: Request, subpath: str) -> str:
        """What a fault rule's `match` is compared with: the path below the base URL by default."""
        return subpath

    def handle(self, request: Request, prefix: str, subpath: str) -> Response:
        raise NotImplementedError

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response({"error": message}, status=status, headers=headers)

    # Control hooks: return True when this provider owns the thing.
    def add_usage(self, token: str, amount: int) -> bool:
        return False

    def set_balance(self, amount_cents: int) -> bool:
        return False

    def set_connection_status(self, connection_id: str, status: str) -> bool:
        return False

    def set_plan_price(self, plan_id: str, price_cents: int) -> bool:
        """The provider changes a plan's price in its own catalog (as its staff would, outside our API)."""
        return False

    def after_request(self) -> None:
        """Runs after each request to this simulator, outside the state lock (e.g. to call back a webhook)."""


def _provider_classes() -> list[type[ProviderSim]]:
    # The registry is filled when Django's apps are ready; the simulators live with their integrations.
    from providers import registry

    sims = [sim for integration in registry.all_integrations() if (sim := integration.simulator()) is not None]
    return [*sims, *registry.sandbox_twins()]


class SandboxApp:
    """The WSGI app. `SandboxApp(seed=1)` is ready to serve the demo data for that seed."""

    def __init__(self, seed: int = 1, latency_ms: int = 0, **options: Any) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.latency_ms = latency_ms
        self.options = options
        self.faults: list[FaultRule] = []
        self.providers: list[ProviderSim] = [cls(self) for cls in _provider_classes()]
        self.reset(seed)

    def provider(self, name: str) -> ProviderSim:
        for sim in self.providers:
            if sim.name == name:
                return sim
        raise KeyError(name)

    def reset(self, seed: int) -> None:
        with self.lock:
            self.seed = seed
            self.clock = Clock()
            self.faults = []
            for index, sim in enumerate(self.providers):
                sim.reset(random.Random(f"{seed}:{index}:{sim.name}"), self.options)

    # WSGI ----------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Any) -> Any:
        try:
            response = self.dispatch(environ)
        except SandboxTimeout:
            time.sleep(TIMEOUT_HOLD_SECONDS)
            _drop_connection(environ)
            return []
        except SandboxLostResponse:
            _drop_connection(environ)
            return []
        return response(environ, start_response)

    def dispatch(self, environ: dict) -> Response:
        """Answer one request; may raise SandboxTimeout or SandboxLostResponse."""
        request = Request(environ)
        path = request.path
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if path.startswith("/_sandbox/"):
            return self._control(request, path.removeprefix("/_sandbox/"))
        for sim in self.providers:
            for prefix in sim.prefixes:
                if path == prefix or path.startswith(prefix + "/"):
                    return self._provider_call(sim, request, prefix, path[len(prefix) :] or "/")
        return json_response({"error": f"no sandbox route for {path}"}, status=404)

    def _provider_call(self, sim: ProviderSim, request: Request, prefix: str, subpath: str) -> Response:
        try:
            target = sim.fault_target(request, subpath)
        except SandboxError:
            target = subpath
        rule = self._take_fault(sim.name, request.method, target)
        after_lost = False
        if rule is not None:
            if rule.kind == "latency":
                time.sleep(rule.ms / 1000)
            elif rule.kind == "status":
                return sim.error_response(rule.status, f"injected fault: HTTP {rule.status}")
            elif rule.kind == "rate_limit":
                return sim.error_response(429, "Rate limited", headers={"Retry-After": str(rule.retry_after)})
            elif rule.kind == "timeout":
                raise SandboxTimeout()
            elif rule.kind == "lost_response":
                after_lost = True
        with self.lock:
            try:
                response = sim.handle(request, prefix, subpath)
            except SandboxError as exc:
                response = sim.error_response(exc.status, exc.message)
            except BadRequest:
                response = sim.error_response(400, "Invalid JSON body")
        sim.after_request()
        if after_lost:
            raise SandboxLostResponse()
        return response

    def _take_fault(self, provider: str, method: str, target: str) -> FaultRule | None:
        with self.lock:
            for rule in self.faults:
                if rule.times > 0 and rule.matches(provider, method, target):
                    rule.times -= 1
                    if rule.times == 0:
                        self.faults.remove(rule)
                    return rule
        return None

    # Control endpoints -----------------------------------------------------

    def _control(self, request: Request, name: str) -> Response:
        if not _is_loopback(request.remote_addr):
            return json_response({"error": "control endpoints answer on loopback only"}, status=403)
        try:
            body = request.get_json(force=True, silent=False) if request.method == "POST" and request.data else {}
        except BadRequest:
            return json_response({"error": "Invalid JSON body"}, status=400)
        if not isinstance(body, dict):
            return json_response({"error": "Body must be an object"}, status=400)
        try:
            return self._control_call(request.method, name, body)
        except SandboxError as exc:
            return json_response({"error": exc.message}, status=exc.status)

    def _control_call(self, method: str, name: str, body: dict) -> Response:
        if name == "clock" and method == "GET":
            return json_response({"now": int(self.clock.now())})
        if method != "POST":
            raise SandboxError(405, f"{method} /_sandbox/{name} is not supported")
        if name == "reset":
            seed = body.get("seed", self.seed)
            if not isinstance(seed, int) or isinstance(seed, bool):
                raise SandboxError(400, "seed must be an integer")
            self.reset(seed)
            return json_response({"ok": True, "seed": seed})
        if name == "clock":
            seconds = _non_negative_int(body, "advance_seconds")
            with self.lock:
                self.clock.advance(seconds)
            return json_response({"now": int(self.clock.now())})
        if name == "usage":
            token, amount = body.get("token"), _non_negative_int(body, "bytes")
            with self.lock:
                if isinstance(token, str) and any(sim.add_usage(token, amount) for sim in self.providers):
                    return json_response({"ok": True})
            raise SandboxError(404, "unknown token")
        if name == "connection-status":
            connection_id, status = body.get("connection_id"), body.get("online_status")
            if status not in ("online", "offline", "nodata", "flapping"):
                raise SandboxError(400, "online_status must be online, offline, nodata or flapping")
            with self.lock:
                if isinstance(connection_id, str) and any(
                    sim.set_connection_status(connection_id, status) for sim in self.providers
                ):
                    return json_response({"ok": True})
            raise SandboxError(404, "unknown connection")
        if name == "plan-price":
            plan_id, price = body.get("plan_id"), _non_negative_int(body, "price_cents")
            with self.lock:
                if isinstance(plan_id, str) and any(sim.set_plan_price(plan_id, price) for sim in self.providers):
                    return json_response({"ok": True})
            raise SandboxError(404, "unknown plan")
        if name == "balance":
            provider, amount = body.get("provider"), _non_negative_int(body, "amount_cents")
            with_balance = [sim.name for sim in self.providers if type(sim).set_balance is not ProviderSim.set_balance]
            if provider not in with_balance:
                raise SandboxError(400, f"provider must be {' or '.join(with_balance)}")
            with self.lock:
                self.provider(provider).set_balance(amount)
            return json_response({"ok": True})
        if name == "faults":
            rules = body.get("rules")
            if not isinstance(rules, list):
                raise SandboxError(400, "rules must be a list")
            parsed = [FaultRule.from_json(rule) for rule in rules]
            with self.lock:
                self.faults = parsed
            return json_response({"ok": True, "rules": len(parsed)})
        raise SandboxError(404, f"unknown control endpoint /_sandbox/{name}")


def _non_negative_int(body: dict, key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SandboxError(400, f"{key} must be a non-negative integer")
    return value


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _drop_connection(environ: dict) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

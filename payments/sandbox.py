"""The payment twin: Stripe's outside shape for Checkout, served by the sandbox under /stripe.

What it keeps: Checkout Sessions (`POST /v1/checkout/sessions`, form-encoded like Stripe, `GET` one,
`POST .../expire`), the hosted payment page (`/stripe/checkout/<id>`, with Pay and Cancel), refunds
(`POST /v1/refunds`, as the Stripe dashboard would make them), webhook endpoints
(`POST /v1/webhook_endpoints`, or one from the sandbox options) and the events it sends them, signed
like Stripe (`Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of "t.payload" with the endpoint secret>`).
Loopback-only controls under `/stripe/_twin/` open and close disputes and redeliver an event.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import json
import logging
import re
import secrets
import threading
import time
from typing import Any

import requests
from django.conf import settings
from werkzeug.wrappers import Request, Response

from providers.sandbox.core import ProviderSim, SandboxError, json_response

logger = logging.getLogger(__name__)

API_VERSION = "2025-09-30.clover"
SESSION_LIFETIME_SECONDS = 24 * 3600


def _id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`, `items[]=x`) as nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, *rest = re.findall(r"[^\[\]]+|\[\]", key) if "[" in key else [key]
        parts = [head, *(part.strip("[]") for part in rest)]
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = None if last else parts[index + 1]
            container: Any = [] if following == "" or (following or "").isdigit() else {}
            if isinstance(node, list):
                if part == "":
                    if last:
                        node.append(value)
                        break
                    node.append(container)
                    node = node[-1]
                    continue
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if last:
                    node[position] = value
                else:
                    node[position] = node[position] if node[position] is not None else container
                    node = node[position]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, container)
    return root


def _int(value: Any, param: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SandboxError(400, f"Invalid integer: {value}") from None
    if number < 0:
        raise SandboxError(400, f"This value must be greater than or equal to 0 ({param}).")
    return number


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for `payload`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class StripeTwin(ProviderSim):
    name = "stripe"
    prefixes = ("/stripe",)

    def reset(self, rng, options: dict[str, Any]) -> None:
        self.sessions: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}  # by payment intent id
        self.refunds: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self.events: dict[str, dict] = {}
        self.endpoints: list[dict] = []
        self.deliveries: list[dict] = []
        self._outbox: list[tuple[dict, dict]] = []
        self._outbox_lock = threading.Lock()
        # One endpoint from the options or the settings, as if configured in Stripe's dashboard.
        url = options.get("stripe_webhook_url", settings.STRIPE_TWIN_WEBHOOK_URL)
        secret = options.get("stripe_webhook_secret", settings.STRIPE_WEBHOOK_SECRET)
        if url and secret:
            self.endpoints.append({"id": _id("we"), "url": url, "secret": secret, "enabled_events": ["*"]})

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        kind = "api_error" if status >= 500 else "invalid_request_error"
        return json_response({"error": {"type": kind, "message": message}}, status=status, headers=headers)

    # Routing ---------------------------------------------------------------------------------------

    def handle(self, request: Request, prefix: str, subpath: str) -> Response:
        parts = [part for part in subpath.split("/") if part]
        method = request.method
        if parts[:1] == ["checkout"] and len(parts) >= 2:
            return self._hosted_page(request, prefix, parts[1], parts[2] if len(parts) > 2 else "")
        if parts[:1] == ["_twin"]:
            if not _is_loopback(request.remote_addr):
                raise SandboxError(403, "twin controls answer on loopback only")
            return self._control(parts[1:], request.get_json(silent=True) or {})
        if parts[:1] != ["v1"]:
            raise SandboxError(404, f"Unrecognized request URL ({method}: {subpath}).")
        self._authenticate(request)
        body = parse_form(list(request.form.items(multi=True))) if method == "POST" else {}
        route = parts[1:]
        if route == ["checkout", "sessions"] and method == "POST":
            return json_response(self._create_session(request, prefix, body))
        if route[:2] == ["checkout", "sessions"] and len(route) == 3 and method == "GET":
            return json_response(self._session(route[2]))
        if route[:2] == ["checkout", "sessions"] and route[3:] == ["expire"] and method == "POST":
            return json_response(self._expire(route[2]))
        if route == ["refunds"] and method == "POST":
            return json_response(self._create_refund(body))
        if route == ["webhook_endpoints"] and method == "POST":
            return json_response(self._create_endpoint(body))
        if route[:1] == ["events"] and len(route) == 2 and method == "GET":
            return json_response(self._event(route[1]))
        raise SandboxError(404, f"Unrecognized request URL ({method}: /v1/{'/'.join(route)}).")

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ").strip()
        if not key.startswith("sk_test_"):
            raise SandboxError(401, "Invalid API Key provided: the payment twin takes test keys (sk_test_...).")

    # Checkout Sessions -----------------------------------------------------------------------------

    def _create_session(self, request: Request, prefix: str, body: dict) -> dict:
        if body.get("mode") != "payment":
            raise SandboxError(400, "The twin supports mode=payment only.")
        for param in ("success_url", "cancel_url"):
            if not str(body.get(param, "")).startswith(("http://", "https://")):
                raise SandboxError(400, f"Not a valid URL ({param}).")
        items = body.get("line_items") or []
        if not isinstance(items, list) or not items:
            raise SandboxError(400, "Missing required param: line_items.")
        total, currency, names = 0, None, []
        for item in items:
            price = (item or {}).get("price_data") or {}
            amount = _int(price.get("unit_amount"), "line_items[][price_data][unit_amount]")
            quantity = _int(item.get("quantity", 1), "line_items[][quantity]")
            item_currency = str(price.get("currency", "")).lower()
            if not re.fullmatch(r"[a-z]{3}", item_currency) or (currency and item_currency != currency):
                raise SandboxError(400, "Invalid currency: every line item needs the same three-letter currency.")
            currency = item_currency
            total += amount * quantity
            names.append(str(((price.get("product_data") or {}).get("name")) or "Item"))
        if total < 50:
            raise SandboxError(400, "The Checkout Session's total amount due must add up to at least $0.50 usd")
        session_id = _id("cs")
        now = int(self.now())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "currency": currency,
            "client_reference_id": body.get("client_reference_id"),
            "customer_email": body.get("customer_email"),
            "metadata": body.get("metadata") or {},
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": body["success_url"],
            "cancel_url": body["cancel_url"],
            "url": f"{request.host_url.rstrip('/')}{prefix}/checkout/{session_id}",
            "created": now,
            "expires_at": now + SESSION_LIFETIME_SECONDS,
            "livemode": False,
            "_items": names,
        }
        self.sessions[session_id] = session
        return self._public(session)

    def _session(self, session_id: str) -> dict:
        session = self.sessions.get(session_id)
        if session is None:
            raise SandboxError(404, f"No such checkout.session: '{session_id}'")
        return session

    def _expire(self, session_id: str) -> dict:
        session = self._session(session_id)
        if session["status"] != "open":
            raise SandboxError(400, f"Only Checkout Sessions with a status of open can be expired ({session_id}).")
        session.update(status="expired", url=None)
        self._emit("checkout.session.expired", self._public(session))
        return self._public(session)

    def _pay(self, session: dict) -> None:
        intent = _id("pi")
        charge = {
            "id": _id("ch"),
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": 0,
            "currency": session["currency"],
            "payment_intent": intent,
            "refunded": False,
            "disputed": False,
            "status": "succeeded",
            "created": int(self.now()),
            "livemode": False,
        }
        self.charges[intent] = charge
        session.update(status="complete", payment_status="paid", payment_intent=intent)
        self._emit("checkout.session.completed", self._public(session))

    # Refunds and disputes ---------------------------------------------------------------------------

    def _charge_for(self, body: dict) -> dict:
        if body.get("payment_intent"):
            charge = self.charges.get(str(body["payment_intent"]))
            if charge is None:
                raise SandboxError(404, f"No such payment_intent: '{body['payment_intent']}'")
            return charge
        for charge in self.charges.values():
            if charge["id"] == body.get("charge"):
                return charge
        raise SandboxError(
            400, "One of the following params should be provided for this request: payment_intent or charge."
        )

    def _create_refund(self, body: dict) -> dict:
        charge = self._charge_for(body)
        left = charge["amount"] - charge["amount_refunded"]
        amount = _int(body["amount"], "amount") if "amount" in body else left
        if amount < 1 or amount > left:
            raise SandboxError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).")
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "currency": charge["currency"],
            "payment_intent": charge["payment_intent"],
            "status": "succeeded",
            "created": int(self.now()),
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._emit("refund.created", dict(refund))
        self._emit("charge.refunded", dict(charge))
        return refund

    def _open_dispute(self, body: dict) -> dict:
        charge = self._charge_for(body)
        amount = _int(body["amount"], "amount") if "amount" in body else charge["amount"]
        dispute = {
            "id": _id("dp"),
            "object": "dispute",
            "amount": amount,
            "charge": charge["id"],
            "currency": charge["currency"],
            "payment_intent": charge["payment_intent"],
            "reason": str(body.get("reason", "fraudulent")),
            "status": "needs_response",
            "created": int(self.now()),
        }
        self.disputes[dispute["id"]] = dispute
        charge["disputed"] = True
        self._emit("charge.dispute.created", dict(dispute))
        return dispute

    def _close_dispute(self, dispute_id: str, body: dict) -> dict:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise SandboxError(404, f"No such dispute: '{dispute_id}'")
        status = body.get("status")
        if status not in ("won", "lost"):
            raise SandboxError(400, "status must be won or lost")
        if dispute["status"] in ("won", "lost"):
            raise SandboxError(400, f"This dispute is already closed ({dispute['status']}).")
        dispute["status"] = status
        self._emit("charge.dispute.closed", dict(dispute))
        return dispute

    def _control(self, route: list[str], body: dict) -> Response:
        if route == ["disputes"]:
            return json_response(self._open_dispute(body))
        if route[:1] == ["disputes"] and route[2:] == ["close"]:
            return json_response(self._close_dispute(route[1], body))
        if route[:1] == ["events"] and route[2:] == ["redeliver"]:
            event = self._event(route[1])
            for endpoint in self.endpoints:
                self._queue(event, endpoint)
            return json_response({"ok": True, "endpoints": len(self.endpoints)})
        if route == ["deliveries"]:
            return json_response({"deliveries": self.deliveries})
        raise SandboxError(404, f"unknown twin control /_twin/{'/'.join(route)}")

    # Events and webhooks ----------------------------------------------------------------------------

    def _create_endpoint(self, body: dict) -> dict:
        url = str(body.get("url", ""))
        if not url.startswith(("http://", "https://")):
            raise SandboxError(400, "Invalid URL: url must be an http(s) address.")
        events = body.get("enabled_events") or []
        if not isinstance(events, list) or not events:
            raise SandboxError(400, "Missing required param: enabled_events.")
        endpoint = {
            "id": _id("we"),
            "object": "webhook_endpoint",
            "url": url,
            "enabled_events": events,
            "secret": f"whsec_{secrets.token_hex(16)}",
            "status": "enabled",
        }
        self.endpoints.append(endpoint)
        return endpoint

    def _event(self, event_id: str) -> dict:
        event = self.events.get(event_id)
        if event is None:
            raise SandboxError(404, f"No such event: '{event_id}'")
        return event

    def _emit(self, event_type: str, obj: dict) -> dict:
        event = {
            "id": _id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(self.now()),
            "type": event_type,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": len(self.endpoints),
            "request": {"id": None, "idempotency_key": None},
        }
        self.events[event["id"]] = event
        for endpoint in self.endpoints:
            if "*" in endpoint["enabled_events"] or event_type in endpoint["enabled_events"]:
                self._queue(event, endpoint)
        return event

    def _queue(self, event: dict, endpoint: dict) -> None:
        with self._outbox_lock:
            self._outbox.append((event, endpoint))

    def after_request(self) -> None:
        """Deliver the queued events, outside the sandbox lock: our endpoint may call the twin back."""
        with self._outbox_lock:
            outbox, self._outbox = self._outbox, []
        for event, endpoint in outbox:
            payload = json.dumps(event)
            headers = {"Content-Type": "application/json", "Stripe-Signature": sign(payload, endpoint["secret"])}
            try:
                answer = requests.post(endpoint["url"], data=payload.encode(), headers=headers, timeout=10)
                status = answer.status_code
            except requests.RequestException as exc:
                logger.warning("stripe twin: delivering %s to %s failed: %s", event["id"], endpoint["url"], exc)
                status = 0
            with self.sandbox.lock:
                self.deliveries.append(
                    {"event": event["id"], "type": event["type"], "url": endpoint["url"], "status": status}
                )

    # The hosted payment page ------------------------------------------------------------------------

    def _hosted_page(self, request: Request, prefix: str, session_id: str, action: str) -> Response:
        session = self._session(session_id)
        if request.method == "POST" and action == "pay":
            if session["status"] != "open":
                return self._page(session, prefix, f"This Checkout Session is {session['status']}.")
            self._pay(session)
            return Response(status=303, headers={"Location": _success_url(session)})
        if request.method == "POST" and action == "cancel":
            return Response(status=303, headers={"Location": session["cancel_url"]})
        if request.method != "GET" or action:
            raise SandboxError(405, "Use the Pay or Cancel button.")
        notice = "" if session["status"] == "open" else f"This Checkout Session is {session['status']}."
        return self._page(session, prefix, notice)

    def _page(self, session: dict, prefix: str, notice: str) -> Response:
        amount = f"{session['amount_total'] / 100:,.2f} {session['currency'].upper()}"
        base = f"{prefix}/checkout/{session['id']}"
        items = "".join(f"<li>{html.escape(name)}</li>" for name in session["_items"])
        buttons = (
            ""
            if notice
            else f"""<form method="post" action="{base}/pay">
    <button type="submit">Pay {html.escape(amount)}</button></form>
  <form method="post" action="{base}/cancel"><button type="submit">Cancel</button></form>"""
        )
        body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Pay {html.escape(amount)} · Stripe Checkout (sandbox twin)</title></head>
<body>
  <h1>Stripe Checkout <small>(sandbox twin: no card is charged)</small></h1>
  <p>Email: {html.escape(str(session.get("customer_email") or "—"))}</p>
  <ul>{items}</ul>
  <p><strong>Total {html.escape(amount)}</strong></p>
  {f'<p role="alert">{html.escape(notice)}</p>' if notice else ""}
  {buttons}
</body></html>"""
        return Response(body, mimetype="text/html")

    @staticmethod
    def _public(session: dict) -> dict:
        return {key: value for key, value in session.items() if not key.startswith("_")}


def _success_url(session: dict) -> str:
    return session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False

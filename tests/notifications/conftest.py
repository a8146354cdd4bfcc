"""Notifications' cast: deliveries run at once (Celery eager, on commit), the Telegram twin, a webhook receiver."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from config.celery import app
from notifications.sandbox import DEFAULT_TOKEN
from providers.sandbox import SandboxApp
from providers.sandbox.testing import SANDBOX_TEST_URL, InstalledSandbox, sandbox_behind_responses


@pytest.fixture
def deliver_now(monkeypatch, django_capture_on_commit_callbacks):
    """Run every delivery queued on commit inside the block, retries included (eager Celery ignores countdowns)."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@dataclass
class Telegram:
    sandbox: InstalledSandbox

    def control(self, path: str, body: dict | None = None) -> dict:
        response = requests.post(f"{SANDBOX_TEST_URL}/telegram/_twin/{path}", json=body or {}, timeout=5)
        response.raise_for_status()
        return response.json()

    def press_start(self, code: str, chat_id: str = "5551234", username: str = "alice_tg") -> dict:
        """The user opens the deep link and presses Start: the bot receives `/start <code>`."""
        return self.control("start", {"code": code, "chat_id": chat_id, "username": username})

    def messages(self, chat_id: str) -> list[str]:
        response = requests.get(f"{SANDBOX_TEST_URL}/telegram/_twin/messages?chat_id={chat_id}", timeout=5)
        response.raise_for_status()
        return [message["text"] for message in response.json()["messages"]]

    @property
    def twin(self):
        return self.sandbox.app.provider("telegram")


@pytest.fixture
def telegram(settings, db):
    settings.TELEGRAM_BOT_TOKEN = DEFAULT_TOKEN
    settings.TELEGRAM_BOT_USERNAME = ""
    settings.TELEGRAM_API_BASE = f"{SANDBOX_TEST_URL}/telegram"
    with sandbox_behind_responses(SandboxApp(seed=1)) as installed:
        yield Telegram(sandbox=installed)


@dataclass
class Receiver:
    """A customer's webhook endpoint on a local port: answers the queued statuses in turn, then 200."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)


@pytest.fixture
def receiver(settings):
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append({"headers": dict(self.headers), "body": body})
            status = state.statuses.pop(0) if state.statuses else 200
            answer = json.dumps({"received": status < 300}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/proxies"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def now():
    from django.utils import timezone

    return timezone.now().replace(microsecond=0)

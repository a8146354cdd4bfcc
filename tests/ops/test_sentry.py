"""Sentry (optional): events leave with every secret scrubbed by the audit log's redaction policy."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from ops.monitoring import scrub_event
from tests.support.processes import PROJECT_ROOT


def test_the_scrubber_removes_secrets_at_any_depth_and_keeps_the_rest():
    event = {
        "request": {
            "url": "https://proxies.example.com/accounts/login/",
            "headers": {"Authorization": "Bearer abc", "Cookie": "sessionid=s3ss", "User-Agent": "Firefox"},
            "cookies": {"sessionid": "s3ss", "csrftoken": "c5rf"},
            "data": {"username": "alice", "password": "hunter22"},
            "query_string": "page=2&api_key=k3y&token_secret=t0k",
        },
        "extra": {"provider": {"name": "shop", "credentials": {"user": "u", "pass": "p"}}},
        "exception": {
            "values": [
                {"stacktrace": {"frames": [{"function": "charge", "vars": {"secret": "sh", "amount_cents": "500"}}]}}
            ]
        },
    }

    scrubbed = scrub_event(event, {})
    text = json.dumps(scrubbed)

    for secret in ("abc", "s3ss", "c5rf", "hunter22", "k3y", "t0k", '"u"', '"p"', '"sh"'):
        assert secret not in text
    assert scrubbed["request"]["data"]["username"] == "alice"
    assert scrubbed["request"]["headers"]["User-Agent"] == "Firefox"
    assert scrubbed["request"]["query_string"].startswith("page=2&api_key=%5Bredacted%5D")
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["amount_cents"] == "500"
    assert event["request"]["data"]["password"] == "hunter22"  # the original is left as it was


class _Collector(BaseHTTPRequestHandler):
    """Stands in for the Sentry server: keeps every envelope posted to it."""

    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_an_error_reported_with_sentry_dsn_set_leaves_without_its_secrets():
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Collector.received = []
    code = (
        "import django, sentry_sdk; django.setup()\n"
        "def charge(password, api_key, amount_cents):\n"
        "    raise RuntimeError('upstream refused')\n"
        "try:\n"
        "    charge('hunter22', 'k3y-value', 500)\n"
        "except RuntimeError:\n"
        "    sentry_sdk.capture_exception()\n"
        "sentry_sdk.flush(timeout=10)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"SENTRY_DSN", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    dsn = f"http://publickey@127.0.0.1:{server.server_port}/1"
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=PROJECT_ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", "SENTRY_DSN": dsn},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr

    sent = b"".join(_Collector.received)
    assert b"upstream refused" in sent  # the error did reach "Sentry"
    assert b"[redacted]" in sent
    assert b"hunter22" not in sent
    assert b"k3y-value" not in sent
    assert b"500" in sent

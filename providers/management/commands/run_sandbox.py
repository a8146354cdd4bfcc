"""Serve the provider sandbox over HTTP on loopback (demo and end-to-end tests)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from werkzeug.serving import make_server

from providers.sandbox import SandboxApp


class Command(BaseCommand):
    help = "Serve the stateful sandbox of all three upstream provider APIs."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--tokens", type=int, default=None, help="build this many residential tokens (benchmarks)")

    def handle(self, *args, host, port, seed, latency_ms, tokens, **options):
        if latency_ms < 0:
            raise CommandError("--latency-ms must not be negative")
        extra = {"tokens": tokens} if tokens else {}
        app = SandboxApp(seed=seed, latency_ms=latency_ms, **extra)
        try:
            server = make_server(host, port, app, threaded=True)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
        self.stdout.write(f"Sandbox serving on http://{host}:{server.server_port} (seed {seed})", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

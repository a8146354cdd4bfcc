"""Listing 100,000 residential tokens through the real client (sandbox behind `responses`): time and peak memory.

Target: under 10 s and under 400 MB peak Python allocations on our 2-core machines, so a sync of a
large reseller account stays well inside a Celery task's time limit.
"""

from __future__ import annotations

import logging
import os
import time
import tracemalloc

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django.setup()

from integrations.unknownproxies.client import Client  # noqa: E402
from providers.sandbox import SandboxApp  # noqa: E402
from providers.sandbox.testing import sandbox_behind_responses  # noqa: E402

TOKENS = 100_000
logging.disable(logging.INFO)


def main() -> None:
    started = time.perf_counter()
    app = SandboxApp(seed=1, tokens=TOKENS)
    built = time.perf_counter() - started
    with sandbox_behind_responses(app) as sandbox:
        client = Client(sandbox.base_url("unknownproxies"), "sandbox", "sandbox-pass")
        # Time and memory in separate passes: tracemalloc itself slows allocation several-fold.
        started = time.perf_counter()
        tokens = client.list_resi_tokens()
        elapsed = time.perf_counter() - started
        del tokens
        tracemalloc.start()
        tokens = client.list_resi_tokens()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert len(tokens) >= TOKENS
    print(f"sandbox build: {TOKENS} tokens in {built:.2f} s")
    print(f"list_resi_tokens: {len(tokens)} tokens in {elapsed:.2f} s ({len(tokens) / elapsed:,.0f} tokens/s)")
    print(f"peak traced memory: {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()

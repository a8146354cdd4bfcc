"""Start and stop the helper processes tests talk to over real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before answering {url}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered {url} within {timeout}s")


@contextmanager
def start_sandbox_process(*, seed: int = 1, extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Run `manage.py run_sandbox` on a free port; yields e.g. 'http://127.0.0.1:50123'."""
    port = free_port()
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "true")}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", "--port", str(port), "--seed", str(seed), *extra_args],
        cwd=PROJECT_ROOT,
        env=env,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{root}/_sandbox/clock", process=process)
        yield root
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

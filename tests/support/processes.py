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


def database_url() -> str:
    """The URL of the test database this process uses (PostgreSQL: a worker process can share it)."""
    from django.db import connection

    db = connection.settings_dict
    assert connection.vendor == "postgresql", "another process shares the test database only on PostgreSQL"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def start_celery_worker(*, broker_url: str, queues: str = "celery,orders", name: str = "test-worker") -> Iterator:
    """A real Celery worker (prefork, one child) on the test database and broker; yields the Popen.

    Prefork, so that a killed child is noticed by its parent (acks_late + reject_on_worker_lost requeue it).
    """
    env = {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": broker_url, "DEBUG": "true"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"{name}-{os.getpid()}@%h",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a prefork worker's pool children), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children

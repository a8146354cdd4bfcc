"""The shared cast (owner, support, two customers) and the sandbox behind `responses`."""

from __future__ import annotations

import os

import pytest

from providers.sandbox import SandboxApp
from providers.sandbox.testing import sandbox_behind_responses

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def sandbox():
    """A fresh sandbox (seed 1) answering every request to http://sandbox.test."""
    with sandbox_behind_responses(SandboxApp(seed=1)) as installed:
        yield installed


@pytest.fixture(scope="session")
def live_sandbox():
    """`python manage.py run_sandbox` on a free loopback port, over real HTTP; yields its root URL."""
    from tests.support.processes import start_sandbox_process

    with start_sandbox_process(seed=1) as root:
        yield root

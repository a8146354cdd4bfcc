"""The shared cast (owner, support, customer A and B), the sandbox behind `responses`, and server fixtures."""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Role
from providers.sandbox import SandboxApp
from providers.sandbox.testing import sandbox_behind_responses
from tests.factories import CustomerFactory, UserFactory
from tests.support.second_factor import force_login_with_second_factor

# Locks live in the cache, which a running `make run` or another test run may share (the file cache under
# var/): a per-run key prefix keeps their locks and ours apart.
settings.CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"

# The cast's passwords are hashed for every test; production's slow hasher only slows the suite.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Playwright's sync API runs an event loop in the test thread; Django must still allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def force_login_passes_the_second_factor(monkeypatch):
    """`client.force_login(user)` skips signing in, the code step included (tests of that step sign in for real)."""
    monkeypatch.setattr(Client, "force_login", force_login_with_second_factor(Client.force_login))


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return [
        f"database: {database}; broker: {settings.CELERY_BROKER_URL.split('@')[-1]}",
        f"redis: {os.environ.get('REDIS_URL', 'not started')}; chromium: {shutil.which('chromium') or 'not installed'}",
    ]


@pytest.fixture
def celery_eager(request):
    """Tasks run in the calling thread, errors raised: an order settles before `order_place` returns.

    The billing tests use it throughout; browser and real-worker tests get a worker process instead.
    """
    from config.celery import app

    real = request.node.get_closest_marker("e2e") or request.node.get_closest_marker("redis")
    previous = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager, app.conf.task_eager_propagates = (False, False) if real else (True, True)
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def owner(db):
    return UserFactory(username="owner", role=Role.OWNER, is_staff=True, is_superuser=True)


@pytest.fixture
def support(db):
    return UserFactory(username="support", role=Role.SUPPORT)


@pytest.fixture
def customer_a(db):
    return CustomerFactory(name="Alice Analytics Ltd")


@pytest.fixture
def customer_b(db):
    return CustomerFactory(name="Bob's Sneaker Bots")


@pytest.fixture
def alice(customer_a):
    return UserFactory(username="alice", customer=customer_a)


@pytest.fixture
def bob(customer_b):
    return UserFactory(username="bob", customer=customer_b)


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


@pytest.fixture
def private_cache(settings):
    """An empty in-memory cache of this test's own, for tests of what lives in the cache (rate limits,
    statistics, one-time state): nothing left by another test counts against them."""
    import uuid

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


@pytest.fixture(scope="session")
def redis_url():
    """The Redis that `make test` started; a missing server is a failure, never a skip."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.fail("REDIS_URL is not set: run this test through `make test`, which starts Redis.")
    import redis

    redis.Redis.from_url(url).ping()
    return url

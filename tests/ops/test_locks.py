"""Locks: one holder at a time, atomic on real Redis; a lock that another process holds is never released by us."""

from __future__ import annotations

import threading
import uuid
from contextlib import ExitStack

import pytest
import redis
from django.core.cache import cache

from ops import locks


def name() -> str:
    return f"test-lock:{uuid.uuid4().hex}"


@pytest.fixture
def on_redis(redis_url, settings):
    """The production arrangement: the cache and the locks on the Redis that make test started."""
    settings.REDIS_URL = redis_url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-locks-{uuid.uuid4().hex[:8]}",
        }
    }
    return redis.Redis.from_url(redis_url)


@pytest.mark.redis
def test_only_one_of_many_concurrent_takers_gets_the_lock(on_redis):
    key, takers = name(), 16
    start = threading.Barrier(takers)
    got, release = [], threading.Event()

    def take():
        start.wait()
        with locks.hold(key, timeout=30) as acquired:
            got.append(acquired)
            if acquired:
                release.wait(10)  # hold it while the others try

    threads = [threading.Thread(target=take) for _ in range(takers)]
    for thread in threads:
        thread.start()
    # Everyone but the holder has answered once they all tried; then the holder lets go.
    while len(got) < takers:
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join()

    assert sorted(got) == [False] * (takers - 1) + [True]
    with locks.hold(key, timeout=30) as acquired:
        assert acquired  # released by its holder


@pytest.mark.redis
def test_it_lives_in_redis_under_the_caches_key_with_an_expiry(on_redis):
    key = name()
    with locks.hold(key, timeout=30) as acquired:
        assert acquired
        stored = cache.make_key(key)
        assert on_redis.exists(stored)
        assert 0 < on_redis.pttl(stored) <= 30_000
        # A cache.add (the older lock, still used by the embedded default) collides with it.
        assert not cache.add(key, "another", timeout=30)
    assert not on_redis.exists(cache.make_key(key))


@pytest.mark.redis
def test_a_lock_that_expired_and_was_taken_by_another_owner_is_not_released_by_us(on_redis):
    key = name()
    with ExitStack() as ours, ExitStack() as theirs:
        assert ours.enter_context(locks.hold(key, timeout=30))
        # Our lock runs out (as if our sync outlived its timeout) and another process takes it.
        on_redis.delete(cache.make_key(key))
        assert theirs.enter_context(locks.hold(key, timeout=30))
        ours.close()  # we finish and "release"

        assert on_redis.exists(cache.make_key(key)), "their lock must survive our release"
        with locks.hold(key, timeout=30) as acquired:
            assert not acquired
    assert not on_redis.exists(cache.make_key(key))


@pytest.mark.redis
def test_a_key_held_through_the_cache_is_not_taken_nor_released(on_redis):
    key = name()
    assert cache.add(key, "another-sync", timeout=30)
    with locks.hold(key, timeout=30) as acquired:
        assert not acquired
    assert cache.get(key) == "another-sync"


def test_without_redis_the_cache_stands_in(db, settings):
    settings.REDIS_URL = ""
    key = name()
    with locks.hold(key, timeout=30) as first:
        assert first
        with locks.hold(key, timeout=30) as second:
            assert not second
        assert cache.get(key) is not None  # the refused taker left it alone
    assert cache.get(key) is None

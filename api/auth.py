"""Who is calling: a customer login's API key (Bearer), checked on every request, rate limited per key."""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from ninja.security import HttpBearer

from accounts.api_keys import api_key_authenticate
from accounts.models import ApiKey
from api.problems import ApiProblem

WINDOW_SECONDS = 60


def _rate_limit(key: ApiKey) -> None:
    """At most API_RATE_LIMIT_PER_MINUTE requests per key and minute; beyond that a 429 with Retry-After.

    A fixed window counted in the project's cache (Redis in production: `incr` is atomic there), so every
    web process shares one count per key.
    """
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    counter = f"api-rate:{key.prefix}:{window}"
    cache.add(counter, 0, timeout=WINDOW_SECONDS + 5)
    try:
        used = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, timeout=WINDOW_SECONDS + 5)
        used = 1
    if used > limit:
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        raise ApiProblem(
            429,
            f"This key made more than {limit} requests this minute; try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`; `request.auth` is then the ApiKey (its user and customer loaded)."""

    def authenticate(self, request, token: str) -> ApiKey | None:
        key = api_key_authenticate(token)
        if key is not None:
            _rate_limit(key)
            request.user = key.user
        return key


def require_write(request) -> None:
    """Writes (buy, renew, self-service changes) need a read-write key; a read-only one gets a 403."""
    if not request.auth.can_write:
        raise ApiProblem(403, "This API key is read-only; create a read-write key to make changes.")

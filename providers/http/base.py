"""The shared client base: one Session, timeouts, safe retries and a single `_request` choke point."""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import requests
from urllib3.exceptions import NewConnectionError

from providers.http import errors

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# On a call that changes state, these may hide an applied change (an internal error after the charge, or a
# gateway that gave up waiting), so they are settled by reconciliation. 503 says the request was refused.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504})


class _RedactSecretPaths(logging.Filter):
    """urllib3 logs each request line at DEBUG; paths that are secrets themselves are masked there."""

    def __init__(self) -> None:
        super().__init__()
        self.markers: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._mask(arg) for arg in record.args)
        return True

    def is_secret(self, text: str) -> bool:
        return any(marker in text for marker in self.markers)

    def _mask(self, arg: Any) -> Any:
        if isinstance(arg, str):
            for marker, placeholder in self.markers.items():
                if marker in arg:
                    return placeholder
        return arg


_secret_paths = _RedactSecretPaths()
logging.getLogger("urllib3.connectionpool").addFilter(_secret_paths)


def redact_in_transport_logs(marker: str, placeholder: str) -> None:
    """Mask any urllib3 request line containing `marker` (a secret path such as an action link)."""
    _secret_paths.markers[marker] = placeholder


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class BaseClient:
    """Subclasses set `provider`, add auth in `_prepare`, and map error bodies in `_error_message`.

    Safe methods (GET) are retried on 429, 5xx, timeouts and dropped connections with
    exponential backoff and full jitter, honouring Retry-After. Anything else is sent once:
    a timeout or dropped connection after sending raises UnknownOutcomeError.
    """

    provider: ClassVar[str] = ""
    connect_timeout: ClassVar[float] = 5.0
    read_timeout: ClassVar[float] = 30.0
    max_retries: ClassVar[int] = 3
    backoff_base: ClassVar[float] = 0.5
    backoff_max: ClassVar[float] = 30.0

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout or (self.connect_timeout, self.read_timeout)
        self.retries = self.max_retries if max_retries is None else max_retries
        self._sleep = sleep

    @classmethod
    def longest_call_seconds(cls) -> float:
        """The longest one call can take: every attempt timing out, with the longest backoff between them.

        The web server's timeouts are set above this (gunicorn.conf.py), so no request is cut while it waits.
        """
        attempts = cls.max_retries + 1
        return attempts * (cls.connect_timeout + cls.read_timeout) + cls.max_retries * cls.backoff_max

    def __repr__(self) -> str:
        # Never show credentials: only where we talk to.
        return f"<{type(self).__name__} {self.base_url}>"

    # Hooks for subclasses -------------------------------------------------

    def _prepare(self, headers: dict[str, str]) -> None:
        """Add authentication to the outgoing headers."""

    def _error_message(self, body: Any, response: requests.Response) -> str:
        if isinstance(body, Mapping):
            for key in ("error", "message", "detail"):
                if isinstance(body.get(key), str) and body[key]:
                    return body[key]
        return response.reason or f"HTTP {response.status_code}"

    def _error_for_status(self, status: int, message: str, *, operation: str, body: Any) -> errors.ProviderError:
        kwargs = {"provider": self.provider, "operation": operation, "status": status}
        mapping: dict[int, type[errors.ProviderError]] = {
            400: errors.InvalidRequestError,
            401: errors.AuthenticationError,
            402: errors.InsufficientBalanceError,
            403: errors.ForbiddenError,
            404: errors.NotFoundError,
            409: errors.ConflictError,
            422: errors.InvalidRequestError,
        }
        if status in mapping:
            return mapping[status](message, **kwargs)
        if status >= 500:
            return errors.UnavailableError(message, **kwargs)
        return errors.ProviderError(message, **kwargs)

    # The choke point ------------------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        authenticated: bool = True,
        expect_json: bool = True,
        safe: bool | None = None,
    ) -> Any:
        """Send one request (retrying only when that is safe) and return the decoded JSON body.

        `safe` defaults to "the method is GET, HEAD or OPTIONS"; pass False for a GET that
        changes state, so it is sent once and a lost answer is an unknown outcome.
        """
        method = method.upper()
        safe = method in SAFE_METHODS if safe is None else safe
        headers = {"Accept": "application/json"}
        if authenticated:
            self._prepare(headers)
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    self._url(path),
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                error = self._transport_error(exc, operation=operation, safe=safe)
                if safe and attempt < self.retries:
                    self._backoff(attempt, None, operation)
                    attempt += 1
                    continue
                # requests' own message names the URL: a path that is itself a secret must not ride along in
                # the chained cause (tracebacks in logs and Sentry show it).
                raise error from (None if _secret_paths.is_secret(path) else exc)

            status = response.status_code
            if status < 400:
                logger.info("%s %s -> %s", self.provider, operation, status)
                return self._decode(response, operation=operation) if expect_json else response.content

            body = self._decode_error_body(response)
            message = self._error_message(body, response)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            logger.warning("%s %s -> %s %s", self.provider, operation, status, message)
            # A wait longer than our longest backoff is the caller's to schedule (a Celery retry), not a sleep.
            too_long = retry_after is not None and retry_after > self.backoff_max
            if safe and status in RETRYABLE_STATUSES and attempt < self.retries and not too_long:
                self._backoff(attempt, retry_after, operation)
                attempt += 1
                continue
            if status == 429:
                raise errors.RateLimitedError(
                    message, retry_after=retry_after, provider=self.provider, operation=operation, status=status
                )
            if not safe and status in AMBIGUOUS_STATUSES:
                raise errors.UnknownOutcomeError(
                    f"the gateway answered {status} ({message}); the change may have been applied",
                    provider=self.provider,
                    operation=operation,
                    status=status,
                )
            raise self._error_for_status(status, message, operation=operation, body=body)

    def _transport_error(self, exc: requests.RequestException, *, operation: str, safe: bool) -> errors.ProviderError:
        kwargs = {"provider": self.provider, "operation": operation}
        never_sent = isinstance(exc, requests.ConnectTimeout) or _caused_by(exc, NewConnectionError)
        if safe or never_sent:
            reason = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
            return errors.UnavailableError(f"{reason}: {type(exc).__name__}", **kwargs)
        return errors.UnknownOutcomeError(
            f"no answer after sending ({type(exc).__name__}); the change may have been applied", **kwargs
        )

    def _backoff(self, attempt: int, retry_after: float | None, operation: str) -> None:
        if retry_after is not None:
            delay = retry_after
        else:
            delay = random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
        logger.info("%s %s: retry %d in %.2fs", self.provider, operation, attempt + 1, delay)
        self._sleep(delay)

    def _decode(self, response: requests.Response, *, operation: str) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            raise errors.MalformedResponseError(
                "the answer is not JSON", provider=self.provider, operation=operation, status=response.status_code
            ) from exc

    @staticmethod
    def _decode_error_body(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        stack.extend([current.__cause__, current.__context__])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return False

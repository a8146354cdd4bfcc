"""The typed error tree every provider client raises; each error says who, what and why, never a secret."""

from __future__ import annotations


class ProviderError(Exception):
    """An upstream call failed. `message` is the upstream's own words where it gave any."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        operation: str = "",
        status: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.operation = operation
        self.status = status
        self.field = field

    def __str__(self) -> str:
        where = " ".join(part for part in (self.provider, self.operation) if part)
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{where}: {self.message}{status}" if where else f"{self.message}{status}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AuthenticationError(ProviderError):
    """401: the credentials were refused."""


class ForbiddenError(ProviderError):
    """403: the credentials are valid but not allowed to do this."""


class InvalidRequestError(ProviderError):
    """400 or a local rule refused the request; `field` names the input when known."""


class InsufficientBalanceError(ProviderError):
    """402: our account at the provider lacks the money."""


class NotFoundError(ProviderError):
    """404: the resource does not exist (or not for this account)."""


class ConflictError(ProviderError):
    """409: the resource is not in a state that allows the change."""


class SoldOutError(ConflictError):
    """409: the plan or network is sold out or inactive."""


class RotationUnavailableError(ConflictError):
    """409: IP rotation is not available for this subscription."""


class RateLimitedError(ProviderError):
    """429: slow down; `retry_after` is in seconds when the provider said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UnavailableError(ProviderError):
    """5xx, a timeout on a safe call, or no connection: nothing was changed upstream."""


class UnknownOutcomeError(ProviderError):
    """A call that changes state got no answer: it may or may not have happened; reconcile later."""


class MalformedResponseError(ProviderError):
    """The upstream answered, but not with the documented shape."""


class TrialNotEnabledError(ForbiddenError):
    """403 on the proxy shop's `trial`: trials are not enabled for this API key (normal, not a fault)."""


class CouponRejectedError(InvalidRequestError):
    """400: the coupon is unknown or expired; nothing was charged."""

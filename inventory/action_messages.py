"""Staff and portal actions, one module per provider; what they share is here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages

from providers.http import errors


def perform(request, call: Callable[[], Any], success: str | Callable[[Any], str], *, unknown_outcome: str) -> bool:
    """Run a service call and turn its outcome into a message; True when it succeeded.

    `success` is the message, or makes it from what the call returned.
    """
    try:
        result = call()
    except errors.UnknownOutcomeError:
        messages.warning(request, unknown_outcome)
    except errors.ProviderError as exc:
        messages.error(request, f"The change was refused: {exc.message}")
    else:
        messages.success(request, success if isinstance(success, str) else success(result))
        return True
    return False

"""Error reports to Sentry (optional, SENTRY_DSN), with secrets scrubbed by the audit log's redaction policy.

Settings call `init_sentry()` only when a DSN is set; `scrub_event` runs on every event before it leaves.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

# Request parts that carry credentials under names the audit policy has no reason to know.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-csrftoken", "sessionid", "csrftoken"}
)


def _is_secret(key: Any) -> bool:
    from ops.audit import is_secret_key

    return is_secret_key(key) or str(key).lower().replace("_", "-") in CREDENTIAL_HEADERS


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry's `before_send`: every value under a secret-looking key, at any depth, becomes "[redacted]",
    and so does each secret-looking parameter of the query string."""
    from ops.audit import REDACTED, redact

    scrubbed = redact(event, hide=_is_secret)
    request = scrubbed.get("request")
    if isinstance(request, dict) and isinstance(request.get("query_string"), str):
        pairs = parse_qsl(request["query_string"], keep_blank_values=True)
        request["query_string"] = urlencode([(k, REDACTED if _is_secret(k) else v) for k, v in pairs])
    return scrubbed


def init_sentry(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
    )

"""Settings: one module, everything that differs between machines comes from the environment."""

from __future__ import annotations

from pathlib import Path

import environ
from cryptography.fernet import Fernet
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# The embedded default (make run, make test-fast) uses placeholders that are
# refused as soon as DEBUG is off, so a misconfigured production never starts.
INSECURE_SECRET_KEY = "insecure-dev-only-secret-key-change-me"
INSECURE_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWNoYW5nZS1tZS0wMDA="
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[INSECURE_ENCRYPTION_KEY])

if not DEBUG:
    if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be set to a random string of 50+ characters when DEBUG is false.")
    if not FIELD_ENCRYPTION_KEYS or INSECURE_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set to your own Fernet keys when DEBUG is false.")
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes; make one with `python manage.py generate_key`)."
        ) from exc

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Trigram search indexes (OpClass in index expressions); inert on SQLite.
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "axes",
    "accounts",
    "providers",
    "inventory",
    "billing",
    "payments",
    "ops",
    # One app per upstream; each registers itself with providers.registry (the core never names them).
    "integrations.unknownproxies",
    "integrations.proxyshop",
    "integrations.iproxy",
    "demo",
    # The second sign-in factor: authenticator apps (TOTP) and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Diffs of edits made in the admin site (prices, provider accounts, roles, customers).
    "auditlog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
        },
    }
]

if "DATABASE_URL" not in env:
    VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Worker, beat and web share the file: wait for locks instead of failing. Write-ahead logging lets pages
    # read while the worker writes (a sync, an order), and commits append to the log without a disk flush each
    # (NORMAL is still durable against a crash of the program; a power cut may lose the last commits).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Lock an account+address out after repeated failed logins (django-axes).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=8)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)

# Second factor (django-otp): the name authenticator apps show; wrong codes wait 1, 2, 4... seconds per device.
OTP_TOTP_ISSUER = "Proxy Reseller"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1

# django-auditlog keeps the diff of every save of these models (the admin site's edits included) beside our own
# business events (ops.audit); the provider secret shows only that it changed, never its (encrypted) value.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    {"model": "billing.product"},
    {
        "model": "providers.provideraccount",
        "exclude_fields": ["last_checked_at", "last_error", "updated_at"],
        "mask_fields": ["secret_encrypted"],
    },
    {"model": "accounts.user", "exclude_fields": ["password", "last_login"]},
    {"model": "accounts.customer"},
)
AUDITLOG_MASK_CALLABLE = "ops.audit.mask"
AUDITLOG_DISABLE_REMOTE_ADDR = True  # X-Forwarded-For is not trusted here; who acted is what the page shows

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

CURRENCY = env.str("CURRENCY", default="USD")


def env_whole_numbers(name: str, default: list[int], *, low: int, high: int | None, meaning: str) -> list[int]:
    """A comma-separated list of whole numbers from the environment, each checked; sorted, without repeats."""
    try:
        values = env.list(name, cast=int, default=default)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a comma-separated list of whole numbers, each {meaning}.") from None
    outside = [value for value in values if value < low or (high is not None and value > high)]
    if outside:
        raise ImproperlyConfigured(f"{name} holds {', '.join(map(str, outside))}: each value must be {meaning}.")
    return sorted(set(values))


def env_emails(name: str) -> list[str]:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    emails = [email.strip() for email in env.list(name, default=[]) if email.strip()]
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            raise ImproperlyConfigured(f"{name} holds {email!r}, which is not an email address.") from None
    return emails


# Alerts: warn this many days before an expiry (only the nearest horizon is sent) and at these shares of a data
# limit (only the highest reached). Staff alerts go to ALERT_STAFF_EMAILS, or to the active owners when empty.
# An empty horizon or threshold list turns that kind of alert off.
ALERT_EXPIRY_HORIZONS_DAYS = env_whole_numbers(
    "ALERT_EXPIRY_HORIZONS_DAYS", [7, 3, 1], low=1, high=None, meaning="a number of days of 1 or more"
)
ALERT_USAGE_THRESHOLDS_PERCENT = env_whole_numbers(
    "ALERT_USAGE_THRESHOLDS_PERCENT", [80, 95], low=1, high=100, meaning="a percentage from 1 to 100"
)
ALERT_STAFF_EMAILS = env_emails("ALERT_STAFF_EMAILS")
# Auto-renew (a per-proxy wish in the portal) renews this many days before expiry.
AUTO_RENEW_DAYS_BEFORE = env.int("AUTO_RENEW_DAYS_BEFORE", default=3)
# Foresight (billing.foresight): upstream costs are counted this many days ahead, and staff are warned when a
# provider balance covers fewer days than RUNWAY_ALERT_DAYS (0 turns the warning off).
FORESIGHT_DAYS = env.int("FORESIGHT_DAYS", default=30)
RUNWAY_ALERT_DAYS = env.int("RUNWAY_ALERT_DAYS", default=7)

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

vars().update(env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Proxy Reseller <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The cache holds rate limits and the fallback for cross-process locks (ops.locks): Redis in production
# (refused otherwise, below), a folder shared by web, worker and beat in the embedded default.
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}
}

# Celery: by default a broker that needs no server (kombu's filesystem transport).
CELERY_DATA_DIR = Path(env.str("CELERY_DATA_DIR", default=str(VAR_DIR / "celery")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=f"file://{CELERY_DATA_DIR / 'results'}")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "control_folder": str(CELERY_DATA_DIR / "control"),
    }
    # kombu's filesystem transport does not create its folders itself.
    for _folder in ("queue", "control", "results"):
        (CELERY_DATA_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "heartbeat": {"task": "ops.heartbeat", "schedule": 60.0},
    "sync-all-accounts": {"task": "inventory.sync_all_accounts", "schedule": env.float("SYNC_INTERVAL_SECONDS", 600.0)},
    "check-alerts": {"task": "inventory.check_alerts", "schedule": env.float("ALERT_INTERVAL_SECONDS", 900.0)},
    "reconcile-unknown-orders": {"task": "billing.reconcile_unknown_orders", "schedule": 60.0},
    "auto-renew-due": {"task": "billing.auto_renew_due", "schedule": env.float("AUTO_RENEW_INTERVAL_SECONDS", 3600.0)},
    "auto-top-up-due": {
        "task": "billing.auto_top_up_due",
        "schedule": env.float("AUTO_TOP_UP_INTERVAL_SECONDS", 300.0),
    },
    "check-foresight": {"task": "billing.check_foresight", "schedule": env.float("FORESIGHT_INTERVAL_SECONDS", 3600.0)},
}
# Orders run on their own queue, "orders" (the task names it): workers serve it beside the default one
# (`-Q celery,orders` in Procfile), or a worker of its own serves it alone.

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        # The brand's colours are one inline <style> in base.html, allowed by its per-request nonce.
        "style-src": ["'self'", NONCE],
        "script-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Demo logins (seed_demo) exist only in the embedded default.
DEMO_MODE = env.bool("DEMO_MODE", default=DEBUG)
DEMO_PASSWORD = "demo-pass-1234"
SANDBOX_URL = env.str("SANDBOX_URL", default="http://127.0.0.1:8100")

# Online top-up (Stripe Checkout). Without both keys it is hidden and the portal says "contact us".
# The demo and the tests use the sandbox's payment twin and its test keys; production sets its own keys
# and leaves STRIPE_API_BASE empty (Stripe itself).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="sk_test_sandbox" if DEMO_MODE else "")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_sandbox" if DEMO_MODE else "")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default=f"{SANDBOX_URL}/stripe" if DEMO_MODE else "")
# The smallest and largest online top-up, in minor units (cents): 5.00 and 1,000.00 by default.
STRIPE_TOPUP_MIN_CENTS = env.int("STRIPE_TOPUP_MIN_CENTS", default=500)
STRIPE_TOPUP_MAX_CENTS = env.int("STRIPE_TOPUP_MAX_CENTS", default=100_000)
# Where the sandbox's payment twin sends its signed webhooks (Procfile.dev points it at the web app).
STRIPE_TWIN_WEBHOOK_URL = env.str("STRIPE_TWIN_WEBHOOK_URL", default="")
if not 50 <= STRIPE_TOPUP_MIN_CENTS <= STRIPE_TOPUP_MAX_CENTS:
    raise ImproperlyConfigured("STRIPE_TOPUP_MIN_CENTS must be at least 50 and at most STRIPE_TOPUP_MAX_CENTS.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# ------------------------------------------------------------------------------------------------------
# Production readiness: Redis, queues, the proxy in front, mail through Celery, monitoring.
# ------------------------------------------------------------------------------------------------------

# Production needs Redis: locks (ops.locks), rate limits and Celery's queues must be atomic and shared by
# every container. The filesystem broker and the file or local-memory caches are for the embedded default.
if not DEBUG:
    if CELERY_BROKER_URL.partition("://")[0] in {"filesystem", "memory"}:
        raise ImproperlyConfigured(
            "CELERY_BROKER_URL must point at Redis (redis://...) when DEBUG is false: "
            "the filesystem broker is for the embedded default (make run) only."
        )
    if not REDIS_URL or CACHES["default"]["BACKEND"].rsplit(".", 2)[-2] in {"filebased", "locmem", "dummy"}:
        raise ImproperlyConfigured(
            "REDIS_URL must point at Redis (redis://...) when DEBUG is false: production locks and the cache "
            "need it; the file cache is for the embedded default (make run) only."
        )

# Queues: syncs (many, slow, retried) never hold up orders and reconciliation; everything else (heartbeat,
# alerts, mail) runs on the default queue. The worker consumes every queue listed here unless told `-Q`.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name) for name in ("celery", "sync", "orders")]
CELERY_TASK_ROUTES = {
    "inventory.sync_*": {"queue": "sync"},
    "billing.*": {"queue": "orders"},
}
# Redis redelivers a task that is not acknowledged within the visibility timeout, and a retry scheduled
# with a countdown waits unacknowledged in a worker: the timeout must outlast the longest countdown (a sync
# retry waits at most inventory.tasks.RETRY_COUNTDOWN_MAX_SECONDS = 1 h, a mail retry
# ops.mail.RETRY_COUNTDOWN_MAX_SECONDS = 30 min) plus a run (CELERY_TASK_TIME_LIMIT), or it would run twice.
# tests/test_production.py keeps these in step.
if not CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
CELERY_RESULT_EXPIRES = 24 * 3600

# Beat records its own heartbeat (ops.beat) beside the worker's (ops.heartbeat, run every minute);
# /healthz answers 503 when either is older than this.
CELERY_BEAT_SCHEDULER = "ops.beat:HeartbeatScheduler"
HEARTBEAT_STALE_SECONDS = env.int("HEARTBEAT_STALE_SECONDS", default=300)

# Behind the TLS proxy (compose: Caddy) REMOTE_ADDR is the proxy's address; the client's is the one the
# nearest proxy wrote into X-Forwarded-For. TRUSTED_PROXY_COUNT says how many proxies stand in front (0: none,
# REMOTE_ADDR is the client). django-axes reads the address through django-ipware, and locks out a
# username only from that address (AXES_LOCKOUT_PARAMETERS above), so one lock-out never locks out everyone.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 (no proxy in front) or the number of proxies.")
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_ORDER = "left-most"
    # ipware counts the proxies listed in the header; the nearest proxy is REMOTE_ADDR, not listed there.
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1
    # Addresses a client wrote at the front of the header are passed over, not a reason to use REMOTE_ADDR.
    IPWARE_STRICT = False
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# Mail leaves through a Celery task (ops.mail), so an SMTP outage never fails the page that sent it
# (password reset, invitations); the task sends with the backend EMAIL_URL chose, and retries.
EMAIL_DELIVERY_BACKEND = EMAIL_BACKEND  # noqa: F821 (set by env.email_url above)
EMAIL_BACKEND = "ops.mail.QueuedEmailBackend"

# Errors to Sentry when SENTRY_DSN is set, with secrets scrubbed by the audit log's redaction policy.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from ops.monitoring import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# LOG_FORMAT=json: one JSON object per line (python-json-logger), for a log collector.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'.")
LOGGING["formatters"]["json"] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
}
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT
# Celery's own log format would replace ours in the worker.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT == "plain"

# Prometheus metrics (django-prometheus) at /metrics, for an internal address that reaches the app directly
# (not through the proxy) or a signed-in staff member; see ops.network and web/staff/metrics.py.
INSTALLED_APPS += ["django_prometheus"]
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
SECURE_REDIRECT_EXEMPT += [r"^metrics$"]  # scraped over plain HTTP inside the network
METRICS_INTERNAL_NETWORKS = env.list(
    "METRICS_INTERNAL_NETWORKS", default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
)

# Usage history: fold the samples of past hours and days, and drop those older than a year (inventory.usage).
CELERY_BEAT_SCHEDULE["downsample-usage"] = {"task": "inventory.downsample_usage", "schedule": 3600.0}

# Customer API (api/, django-ninja): requests per key and minute before a 429 with Retry-After.
INSTALLED_APPS += ["ninja", "api"]
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=120)

# Our brand (branding app): what every page and email shows; the owner can override each field at /staff/brand/.
BRAND_SITE_NAME = env.str("BRAND_SITE_NAME", default="Proxy Reseller")
BRAND_LOGO_URL = env.str("BRAND_LOGO_URL", default="")
BRAND_LOGO_SVG = env.str("BRAND_LOGO_SVG", default="")  # inline <svg>…</svg>, used when there is no logo URL
BRAND_ACCENT_COLOUR = env.str("BRAND_ACCENT_COLOUR", default="#2454d6")
BRAND_HEADER_COLOUR = env.str("BRAND_HEADER_COLOUR", default="#1d2330")
BRAND_SUPPORT_EMAIL = env.str("BRAND_SUPPORT_EMAIL", default="")
BRAND_FOOTER = env.str("BRAND_FOOTER", default="")
BRAND_EMAIL_SUBJECT_PREFIX = env.str("BRAND_EMAIL_SUBJECT_PREFIX", default="")  # e.g. "[Acme]"
OTP_TOTP_ISSUER = BRAND_SITE_NAME
if "DEFAULT_FROM_EMAIL" not in env:
    DEFAULT_FROM_EMAIL = SERVER_EMAIL = f"{BRAND_SITE_NAME} <no-reply@localhost>"

# Notifications (notifications app): feed, email, Telegram and signed webhooks; see notifications/services.py.
# The Telegram bot reads its users' messages by getUpdates polling from Celery beat (no public URL needed).
INSTALLED_APPS += ["branding", "notifications"]
TEMPLATES[0]["OPTIONS"]["context_processors"] += [
    "branding.context_processors.brand",
    "notifications.context_processors.unread",
]
SITE_URL = env.str("SITE_URL", default="")  # makes links in Telegram messages and webhooks absolute
TELEGRAM_BOT_TOKEN = env.str(
    "TELEGRAM_BOT_TOKEN", default="7000000001:sandbox-bot-token-for-the-demo" if DEMO_MODE else ""
)
TELEGRAM_BOT_USERNAME = env.str("TELEGRAM_BOT_USERNAME", default="")  # else asked with getMe
TELEGRAM_API_BASE = env.str(
    "TELEGRAM_API_BASE", default=f"{SANDBOX_URL}/telegram" if DEMO_MODE else "https://api.telegram.org"
)
STAFF_NOTIFY_EMAILS = env_emails("STAFF_NOTIFY_EMAILS")
STAFF_TELEGRAM_CHAT_ID = env.str("STAFF_TELEGRAM_CHAT_ID", default="")
# Customers' webhook URLs must be public https addresses; development and tests post to this machine.
NOTIFY_WEBHOOK_ALLOW_PRIVATE = env.bool("NOTIFY_WEBHOOK_ALLOW_PRIVATE", default=DEBUG)
CELERY_BEAT_SCHEDULE["requeue-lost-deliveries"] = {"task": "notifications.requeue_lost_deliveries", "schedule": 300.0}
CELERY_BEAT_SCHEDULE["poll-telegram"] = {
    "task": "notifications.poll_telegram",
    "schedule": env.float("TELEGRAM_POLL_SECONDS", 10.0),
}

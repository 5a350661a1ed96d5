"""Settings for the snapshot dashboard.

Longer than 400 lines: every setting of the project in one place, grouped by area, each with
why it has its value; splitting them would only make them harder to find.

Every value a deployment may change comes from the environment and has a safe default for
local use; the README lists them all.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def redis_url_next_db(url: str) -> str:
    """The same Redis server as ``url``, the database after its own (the cache's)."""
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db + 1}", parts.query, parts.fragment))


DEBUG = env_bool("DEBUG", True)
# Production is chosen with DJANGO_ENV=production or DEBUG=0: no insecure defaults then.
PRODUCTION = os.environ.get("DJANGO_ENV", "").lower() == "production" or not DEBUG
if PRODUCTION:
    DEBUG = False
    _missing = [name for name in ("SECRET_KEY", "VPS_API_TOKEN") if not os.environ.get(name)]
    if _missing:
        raise ImproperlyConfigured(
            f"Production settings need {' and '.join(_missing)} in the environment "
            "(see .env.example)."
        )
SECRET_KEY = os.environ.get("SECRET_KEY") or "insecure-local-development-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "snapshots_ui",
    "provider_sim",
]

MIDDLEWARE = [
    # First: the container health check reaches it as 127.0.0.1, not an allowed host.
    "snapshots_ui.middleware.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After LocaleMiddleware (the browser's language) and authentication: the account's choice.
    "snapshots_ui.languages.AccountLanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "snapshots_ui.middleware.ForegroundBudgetMiddleware",
    "snapshots_ui.middleware.SessionLifetimeMiddleware",
    "snapshots_ui.two_factor.TwoFactorMiddleware",
    "snapshots_ui.middleware.HtmxLoginRedirectMiddleware",
    "snapshots_ui.middleware.ProviderLookupMiddleware",
    # Last, as django-axes asks: it turns a lock-out into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Log-in throttling (django-axes, https://django-axes.readthedocs.io/): three keys, each with
# its own limit (snapshots_ui/login_throttle.py): a username from one address, one address
# across usernames, one username across addresses. A lock lasts LOGIN_COOLOFF_MINUTES after
# the last failure; an Admin lifts it earlier from Django admin (recorded in the audit trail).
LOGIN_FAILURES_PER_USER_AND_ADDRESS = int(
    os.environ.get("LOGIN_FAILURES_PER_USER_AND_ADDRESS") or os.environ.get("AXES_FAILURE_LIMIT")
    or "5"
)  # fmt: skip
LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "20"))
LOGIN_FAILURES_PER_USERNAME = int(os.environ.get("LOGIN_FAILURES_PER_USERNAME", "10"))
LOGIN_COOLOFF_MINUTES = float(
    os.environ.get("LOGIN_COOLOFF_MINUTES")
    or float(os.environ.get("AXES_COOLOFF_HOURS") or 0.25) * 60
)
AXES_HANDLER = "snapshots_ui.login_throttle.LayeredLimitsHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURES_PER_USER_AND_ADDRESS
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address", "username"]
# A success does not wipe the failures: one account's log-in must not reset the count of an
# address or a username that is being guessed. Failures also stay in a log (and the audit
# trail) when a lock is lifted.
AXES_RESET_ON_SUCCESS = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "snapshots_ui.client_ip.axes_client_ip"
AXES_SENSITIVE_PARAMETERS = ["password"]
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Snapshot dashboard")
# How many reverse proxies in front of the web server append to X-Forwarded-For.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

ROOT_URLCONF = "dashboard.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "snapshots_ui.context_processors.provider",
                "snapshots_ui.context_processors.notifications",
            ],
        },
    },
]

WSGI_APPLICATION = "dashboard.wsgi.application"

# https://docs.djangoproject.com/en/6.1/ref/databases/#sqlite-notes
# WAL and IMMEDIATE transactions let the web server, worker, beat and simulator share one
# SQLite file without "database is locked" errors under normal load.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # PostgreSQL starts a process per connection: keep each one for a while (checked
        # before reuse) rather than paying for that on every request.
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # opening a file costs nothing
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory, so that a Celery worker started by the tests sees the same data;
    # one per test run, so that two runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"dashboard-test-{os.getpid()}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("CACHE_REDIS_URL") or redis_url_next_db(REDIS_URL),
        "KEY_PREFIX": "dashboard",
        "TIMEOUT": 300,
    }
}

# The provider budget and the provider-call counts live in the cache's Redis database.
PROVIDER_BUDGET_REDIS_URL = CACHES["default"]["LOCATION"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Password reset mails: sent over SMTP in production or when EMAIL_HOST is set, else printed
# to the console. https://docs.djangoproject.com/en/6.1/topics/email/
if PRODUCTION or os.environ.get("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ.get("EMAIL_HOST", "localhost"),
                "port": int(os.environ.get("EMAIL_PORT", "587")),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "snapshots@localhost")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "snapshots_ui:fleet"
LOGOUT_REDIRECT_URL = "login"

# A session ends after SESSION_IDLE_SECONDS without activity (a click, a form, a page load;
# not the status requests an open page makes by itself) and SESSION_MAX_SECONDS after log-in,
# whatever happens (snapshots_ui.middleware.SessionLifetimeMiddleware).
SESSION_IDLE_SECONDS = int(os.environ.get("SESSION_IDLE_SECONDS", "1800"))
SESSION_MAX_SECONDS = int(os.environ.get("SESSION_MAX_SECONDS", "43200"))
SESSION_COOKIE_AGE = SESSION_MAX_SECONDS
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ar", "العربية")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if not PRODUCTION
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# https://docs.djangoproject.com/en/6.1/ref/csp/
# No inline scripts or styles anywhere; htmx is configured not to need eval or inline styles.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if PRODUCTION:
    # https://docs.djangoproject.com/en/6.1/howto/deployment/checklist/
    # TLS ends at the proxy in front, which must set X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]  # checks and scrapers use plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# --- The provider -------------------------------------------------------------------------
VPS_API_BASE_URL = os.environ.get("VPS_API_BASE_URL") or "http://127.0.0.1:8001/api/v1/"
VPS_API_TOKEN = os.environ.get("VPS_API_TOKEN") or "dev-token"
# The provider budget, shared by every process: requests a minute (the provider publishes no
# limit; see the README on choosing one), the share only a person's calls may use, and how
# long a call may wait for a slot. A 429 without Retry-After pauses every call this long.
VPS_API_RATE_LIMIT = int(os.environ.get("VPS_API_RATE_LIMIT", "120"))
VPS_API_FOREGROUND_SHARE = float(os.environ.get("VPS_API_FOREGROUND_SHARE", "0.25"))
VPS_API_FOREGROUND_MAX_WAIT = float(os.environ.get("VPS_API_FOREGROUND_MAX_WAIT", "5"))
VPS_API_BACKGROUND_MAX_WAIT = float(os.environ.get("VPS_API_BACKGROUND_MAX_WAIT", "20"))
VPS_API_429_PAUSE_SECONDS = float(os.environ.get("VPS_API_429_PAUSE_SECONDS", "30"))
# (connect, read) in seconds; requests has no default timeout.
VPS_API_TIMEOUT = (
    float(os.environ.get("VPS_API_CONNECT_TIMEOUT", "3.05")),
    float(os.environ.get("VPS_API_READ_TIMEOUT", "20")),
)

# --- Timings and limits -------------------------------------------------------------------
# Each is defined here once and referenced everywhere else, templates included.
# The provider's limit of snapshots per server (its page says 5).
VPS_SNAPSHOTS_PER_SERVER = int(os.environ.get("VPS_SNAPSHOTS_PER_SERVER", "5"))
# How long a list of servers and snapshots read from the provider is served from the cache.
VPS_CACHE_SECONDS = int(os.environ.get("VPS_CACHE_SECONDS", "15"))
# A server or snapshot missing from stored lists older than this makes one fresh read before
# the page says it does not exist: it may have been added at the provider since.
VPS_REFRESH_ON_MISS_SECONDS = int(os.environ.get("VPS_REFRESH_ON_MISS_SECONDS", "10"))
# The provider's stated windows, in seconds; an operation past its maximum times this factor
# is "stuck".
VPS_CREATE_EXPECTED_SECONDS = (3 * 60, 10 * 60)
VPS_RESTORE_EXPECTED_SECONDS = (5 * 60, 15 * 60)
# A delete is answered at once; one whose answer was lost is settled by the next polls.
VPS_DELETE_EXPECTED_SECONDS = (0, 2 * 60)
# A workflow step refused because something else runs on the server is tried again for this
# long, then the workflow fails and says why.
VPS_WORKFLOW_WAIT_SECONDS = int(os.environ.get("VPS_WORKFLOW_WAIT_SECONDS", "1800"))
# A server page keeps showing a workflow this long after it ended, with its outcome.
VPS_WORKFLOW_SHOWN_SECONDS = int(os.environ.get("VPS_WORKFLOW_SHOWN_SECONDS", "3600"))
# How long a snapshot is kept unless the person taking it chooses otherwise (days; 0: kept
# until someone deletes it).
SNAPSHOT_DEFAULT_KEEP_DAYS = max(0, int(os.environ.get("SNAPSHOT_DEFAULT_KEEP_DAYS", "0")))
# The most snapshots one bulk delete takes at a time.
BULK_DELETE_LIMIT = 50
# Expiry, schedules and chained workflows are looked after this often (beat).
VPS_LIFECYCLE_TICK_SECONDS = float(os.environ.get("VPS_LIFECYCLE_TICK_SECONDS", "20"))
VPS_STUCK_GRACE_FACTOR = float(os.environ.get("VPS_STUCK_GRACE_FACTOR", "1.5"))
# A stuck operation is still checked at the provider, but only this often.
VPS_STUCK_POLL_SECONDS = int(os.environ.get("VPS_STUCK_POLL_SECONDS", "30"))
# How long a create or restore whose answer was lost may stay unconfirmed before the poll
# concludes the request never arrived; longer than the provider's read timeout.
VPS_RECONCILE_GRACE_SECONDS = int(os.environ.get("VPS_RECONCILE_GRACE_SECONDS", "90"))
# A status poll of a server holds a lock this long while queued or running; a poll lost with
# a worker or with Redis is dispatched again once it expires.
VPS_POLL_LOCK_SECONDS = int(os.environ.get("VPS_POLL_LOCK_SECONDS", "35"))
# The longest wait before a poll is retried; far below Redis' visibility timeout (below).
VPS_POLL_MAX_RETRY_SECONDS = 300
# After the provider rejects the token, polling pauses this long before trying again.
VPS_TOKEN_REJECTED_PAUSE_SECONDS = int(os.environ.get("VPS_TOKEN_REJECTED_PAUSE_SECONDS", "60"))
# The fleet table is rendered once per change and shared by every viewer for at most this
# long (its relative times are that old at most).
VPS_FLEET_TABLE_CACHE_SECONDS = 30
VPS_FLEET_PAGE_SIZE = 100
ACTIVITY_PAGE_SIZE = 50

# The API for automation (/api/v1/): bearer tokens only (no session, so no CSRF), JSON only,
# errors as problem details, a rate limit per token. https://www.django-rest-framework.org/
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["snapshots_ui.api.access.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["snapshots_ui.api.access.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["snapshots_ui.api.access.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["snapshots_ui.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "snapshots_ui.api.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# Requests a minute (or /s, /hour) each API token may make.
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "120/min")
# The longest an operation's ?wait=N long-poll holds (N itself is at most 60).
API_LONG_POLL_CAP_SECONDS = int(os.environ.get("API_LONG_POLL_CAP_SECONDS", "60"))
# The largest request body the API reads, in bytes.
API_MAX_BODY_BYTES = 64 * 1024
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "Snapshot dashboard API",
    "DESCRIPTION": (
        "Snapshots for automation, with the dashboard's roles, rules and audit trail. "
        "Authenticate with `Authorization: Bearer <token>` (make one on your account page). "
        "Errors are RFC 9457 problem details."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "PATH_CONVERTER_OVERRIDES": {
        "api_id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999},
    },
}
# /health/provider/ asks the provider at most this often.
PROVIDER_HEALTH_CACHE_SECONDS = 10
# /health/ reports the worker stale when its last heartbeat is older than this.
WORKER_HEARTBEAT_MAX_AGE = 60

# /metrics (Prometheus) answers scrapers from these addresses or networks (comma-separated),
# or any caller sending "Authorization: Bearer <METRICS_TOKEN>"; nobody else.
METRICS_ALLOW_IPS = env_list("METRICS_ALLOW_IPS", "")
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# --- Notifications ----------------------------------------------------------------------------
# Apprise URLs (comma-separated) notified of every event, shown read-only on the targets page.
# https://github.com/caronc/apprise/wiki
NOTIFY_URLS = env_list("NOTIFY_URLS", "")
# Links in notifications point here (the address people open the dashboard at).
DASHBOARD_BASE_URL = os.environ.get("DASHBOARD_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# A delivery is tried this many times, waiting NOTIFY_RETRY_BACKOFF_SECONDS, then twice that,
# and so on (at most NOTIFY_RETRY_MAX_SECONDS, far below Redis' visibility timeout).
NOTIFY_MAX_ATTEMPTS = int(os.environ.get("NOTIFY_MAX_ATTEMPTS", "8"))
NOTIFY_RETRY_BACKOFF_SECONDS = int(os.environ.get("NOTIFY_RETRY_BACKOFF_SECONDS", "4"))
NOTIFY_RETRY_MAX_SECONDS = 600
# A target whose attempts failed this many times in a row is paused and the Admins are told.
NOTIFY_PAUSE_AFTER_FAILURES = int(os.environ.get("NOTIFY_PAUSE_AFTER_FAILURES", "10"))
# The provider unreachable this long raises an event (and its return another).
NOTIFY_PROVIDER_DOWN_MINUTES = float(os.environ.get("NOTIFY_PROVIDER_DOWN_MINUTES", "5"))
# Connect and read timeouts of a webhook or Apprise call, in seconds.
NOTIFY_TIMEOUT = (3.05, 10)
# How often beat looks for what no action records: outages, vanished protected snapshots,
# stale schedules, deliveries whose task was lost.
NOTIFY_WATCH_SECONDS = float(os.environ.get("NOTIFY_WATCH_SECONDS", "30"))

# --- The simulator (only used when it runs) -----------------------------------------------
VPS_SIM_CREATE_SECONDS = float(os.environ.get("VPS_SIM_CREATE_SECONDS", "20"))
VPS_SIM_RESTORE_SECONDS = float(os.environ.get("VPS_SIM_RESTORE_SECONDS", "30"))
VPS_SIM_TOKEN = os.environ.get("VPS_SIM_TOKEN") or VPS_API_TOKEN
VPS_SIM_PAGE_SIZE = int(os.environ.get("VPS_SIM_PAGE_SIZE", "50"))
# Requests a minute the simulator serves before answering 429 with Retry-After (0: no limit).
VPS_SIM_RATE_LIMIT = int(os.environ.get("VPS_SIM_RATE_LIMIT", "0"))

# --- Celery -------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Countdowns (VPS_POLL_MAX_RETRY_SECONDS) stay far below this, or Redis re-delivers the task
# while it still waits.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = TIME_ZONE
# Beat queues a status poll for each server with work in progress this often. Run one beat.
VPS_POLL_SECONDS = float(os.environ.get("VPS_POLL_SECONDS", "1"))
# From this many servers with work, one sweep of the account-wide lists replaces the
# per-server polls (its cost is the lists' pages, whatever the number of servers).
VPS_POLL_SWEEP_SERVERS = int(os.environ.get("VPS_POLL_SWEEP_SERVERS", "10"))
# How often an open page asks for the status of each operation it shows in progress (a stuck
# one: every VPS_STUCK_STATUS_REFRESH_SECONDS).
VPS_STATUS_REFRESH_SECONDS = float(os.environ.get("VPS_STATUS_REFRESH_SECONDS", "1.5"))
VPS_STUCK_STATUS_REFRESH_SECONDS = float(os.environ.get("VPS_STUCK_STATUS_REFRESH_SECONDS", "10"))
CELERY_BEAT_SCHEDULE = {
    "lifecycle-tick": {
        "task": "snapshots_ui.tasks.lifecycle_tick",
        "schedule": VPS_LIFECYCLE_TICK_SECONDS,
        "options": {"expires": VPS_LIFECYCLE_TICK_SECONDS},
    },
    "notify-watch": {
        "task": "snapshots_ui.tasks.notify_watch",
        "schedule": NOTIFY_WATCH_SECONDS,
        "options": {"expires": NOTIFY_WATCH_SECONDS},
    },
    "dispatch-polls": {
        "task": "snapshots_ui.tasks.dispatch_polls",
        "schedule": VPS_POLL_SECONDS,
        # A tick that waited longer than a period in the queue is dropped, not run late.
        "options": {"expires": VPS_POLL_SECONDS},
    },
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
# Routine tasks (the poll dispatcher beat queues every second, the polls) log at DEBUG
# (dashboard/logging.py); the simulator's request lines show from DEBUG only.
_ROUTINE = {"filters": ["routine_tasks"]}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "dashboard.logging.JsonFormatter"},
    },
    "filters": {"routine_tasks": {"()": "dashboard.logging.RoutineTasksAtDebug"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # Production logs go to stdout for the container runtime to collect.
            "stream": "ext://sys.stdout" if PRODUCTION else "ext://sys.stderr",
            "formatter": "json" if PRODUCTION else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"},
        "axes": {"level": "WARNING"},
        "celery.beat": _ROUTINE,
        "celery.worker.strategy": _ROUTINE,
        "celery.app.trace": _ROUTINE,
    },
}

"""Django settings for ccpdash, read from the environment; every variable is listed in the README."""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from ccpdash.request_log import LOGGERS as REFUSAL_LOGGERS

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off (got {raw!r})")


def env_number(name: str, default: float, *, minimum: float = 0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number (got {raw!r})") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {raw!r})")
    return value


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = env_number(name, default, minimum=minimum)
    if value != int(value):
        raise ImproperlyConfigured(f"{name} must be a whole number (got {value!r})")
    return int(value)


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def pool_from_env() -> dict:
    """The PostgreSQL connection pool of each process (DB_POOL_*): its sizes and how long a request waits."""
    # 0: a Celery prefork child's pool is closed around every task (Celery's Django fix-up), and a pool
    # that kept one open would open two per task; a web process keeps what it opened for max_idle anyway.
    min_size = env_int("DB_POOL_MIN_SIZE", 0)
    max_size = env_int("DB_POOL_MAX_SIZE", 6, minimum=1)
    if max_size < min_size:
        raise ImproperlyConfigured(f"DB_POOL_MAX_SIZE ({max_size}) must be at least DB_POOL_MIN_SIZE ({min_size})")
    # A request that gets no connection within this many seconds is answered 503 (ccpdash.failures).
    timeout = env_number("DB_POOL_TIMEOUT", 5.0, minimum=0.1)
    return {"min_size": min_size, "max_size": max_size, "timeout": timeout, "name": "ccpdash"}


def database_from_env() -> dict:
    """DATABASE_URL (PostgreSQL or SQLite); a SQLite file beside the project by default."""
    raw = os.environ.get("DATABASE_URL", "").strip()
    if not raw:
        raw = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    scheme = urlparse(raw).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or sqlite:/// (got {raw!r})"
        )
    try:
        config = dj_database_url.parse(raw, conn_max_age=0, conn_health_checks=True)
    except Exception as exc:  # the library raises several types for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL is malformed ({exc}): {raw!r}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"DATABASE_URL names no database: {raw!r}")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Several processes (web, worker, beat) write to one file: WAL lets readers go on
        # while one writes, IMMEDIATE takes the write lock at BEGIN so two writers queue
        # on the busy timeout instead of failing halfway with "database is locked".
        config["CONN_MAX_AGE"] = 0
        config["CONN_HEALTH_CHECKS"] = False
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # Live-server and worker tests share the test database across processes,
        # so it must be a file, never SQLite's default in-memory test database.
        config["TEST"] = {"NAME": str(BASE_DIR / "var" / "test_db.sqlite3")}
    else:
        # Under ASGI every sync view runs in a thread of its own, and a persistent connection
        # (CONN_MAX_AGE > 0) stays with its thread: one web process ended up holding all of
        # PostgreSQL's connections. A bounded pool per process caps that (README "Database
        # connections"); Django's pool requires CONN_MAX_AGE = 0 and lends a connection per request.
        config["CONN_MAX_AGE"] = 0
        config.setdefault("OPTIONS", {})["pool"] = pool_from_env()
    return config


def redis_url_from_env() -> str:
    raw = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").strip()
    parsed = urlparse(raw)
    if parsed.scheme not in {"redis", "rediss"} or not parsed.hostname:
        raise ImproperlyConfigured(f"REDIS_URL must look like redis://host:port/db (got {raw!r})")
    try:
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ImproperlyConfigured(f"REDIS_URL has a bad port (got {raw!r})") from None
    return raw


# The installation's own key, written once by `make run` / `make test` (ccpdash.devserver) for development;
# production sets SECRET_KEY. There is no key in the repository to fall back on.
SECRET_KEY_FILE = Path(os.environ.get("SECRET_KEY_FILE") or BASE_DIR / "var" / "secret_key")


def secret_key_from_env() -> str:
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    try:
        key = SECRET_KEY_FILE.read_text().strip()
    except OSError:
        key = ""
    if not key:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set, and this installation has no key of its own ({SECRET_KEY_FILE}). Set "
            "SECRET_KEY in production; `make run` or `make test` writes a random development key there."
        )
    return key


SECRET_KEY = secret_key_from_env()
DEBUG = env_bool("DEBUG", False)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto, API `Location` and `refURL` must say
# https; only turn this on when the proxy always sets (and overwrites) that header.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front append to X-Forwarded-For; the throttles then count the address the outermost of them
# saw (ccpdash.throttling.client_address). 0: the header is ignored, as a client can send anything in it.
TRUST_X_FORWARDED_FOR = env_int("TRUST_X_FORWARDED_FOR", 0)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# A page's CSRF failure is the site's 403 page, saying why and how to go on; the API's stays Django's.
CSRF_FAILURE_VIEW = "ccpdash.failures.csrf_failure"

# --- Production hardening (README "Production settings"): off by default, so `make run` works over http ---
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# The health check of a load balancer speaks plain http to the process, and so does a scraper that reads
# each host's web process directly (README "Metrics").
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Scripts, styles, images, fonts and connections (the WebSocket included) from this site only; no frames,
# plugins, or forms posting elsewhere (ccpdash.security). The Django admin sets some style attributes,
# hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "channels",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "contacts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "ccpdash.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise (static files are not requests worth counting), above everything else it times.
    "contacts.metrics.middleware.RequestMetricsMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Inside CORS, so a browser client can read a 429 and its Retry-After; before the session is read.
    "contacts.api.middleware.ApiRateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a login that django-axes refused into the lockout page (ccpdash.throttling.locked_out).
    "axes.middleware.AxesMiddleware",
    # Innermost, so a view's "service unavailable" (no database connection in time) becomes a 503 before
    # anything else sees it; what a middleware raises goes to handler500, the same module's server_error.
    "ccpdash.failures.FailureMiddleware",
]

ROOT_URLCONF = "ccpdash.urls"
ASGI_APPLICATION = "ccpdash.asgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": database_from_env()}
# The Retry-After (seconds) of a 503 answered when a service a request needs is unavailable, such as no
# database connection within DB_POOL_TIMEOUT (ccpdash.failures).
RETRY_AFTER_SECONDS = env_int("RETRY_AFTER_SECONDS", 5, minimum=1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = redis_url_from_env()
# Keeps several installations (or a test run beside `make run`) apart on one Redis server.
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "ccpdash")

CHANNEL_LAYERS = {
    "default": {
        # Redis pub/sub, not the list-based core layer: the group's members are the web processes' hubs
        # (contacts.live.hub), one each, and what goes through are frames (contacts.live.sender). Measured
        # under load (README "Live updates"), the core layer cost a sender three to four round trips per
        # frame (group lookup, expiry clean-up, a Lua script) and a hub two more per frame received
        # (a clean-up script, then BZPOPMIN), on the web process's busy event loop; here a send is one
        # PUBLISH and a hub's frames arrive pushed on one subscribed connection. Pub/sub keeps nothing
        # for a subscriber that is not connected: frames lost that way show as gaps in the senders'
        # numbers and the pages resync. A dead process's hub leaves the group with its connection.
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": f"{REDIS_PREFIX}:live",
        },
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Four queues, so no kind of work waits behind another (README "Workers and queues"): live work (a
# contact's next step: submit, cancel, renotify), routing passes (at most one per MRD in flight, which
# a worker serving both takes in turn with the live queue's, never behind all of it), the periodic
# work beat sends (sweeps, the reconciler, heartbeats, alert checks, retention), and bulk jobs. Each
# worker serves the queues its `-Q` names (ccpdash.processes); a worker started without `-Q` serves
# them all (the tests' workers). The live queue keeps the name the one queue had, so messages already
# waiting in it survive an upgrade (a routing message among them still routes).
LIVE_QUEUE = f"{REDIS_PREFIX}-tasks"
ROUTING_QUEUE = f"{REDIS_PREFIX}-routing"
PERIODIC_QUEUE = f"{REDIS_PREFIX}-periodic"
BULK_QUEUE = f"{REDIS_PREFIX}-bulk"
CELERY_TASK_DEFAULT_QUEUE = LIVE_QUEUE
# Declared as Celery declares a queue it creates on demand (an exchange of the queue's name), so the
# live queue's messages published before the split are still delivered.
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name) for name in (LIVE_QUEUE, ROUTING_QUEUE, PERIODIC_QUEUE, BULK_QUEUE)
]
CELERY_TASK_ROUTES = {
    **{
        name: {"queue": PERIODIC_QUEUE}
        for name in (
            "contacts.tasks.sweep_due",
            "contacts.tasks.reconcile",
            "contacts.broadcast.send_heartbeat",
            "contacts.queue_alerts.check_queue_alerts",
            "contacts.workflows.resume_bulk_jobs",
            "contacts.retention.purge_finished_contacts",
            "contacts.figures.fold_tallies",
            "contacts.figures.check_tallies",
            "contacts.notify.check_notifications",
            "contacts.notify.purge_deliveries",
        )
    },
    "contacts.tasks.route_mrd": {"queue": ROUTING_QUEUE},
    "contacts.workflows.run_bulk_job": {"queue": BULK_QUEUE},
    # Off the live and periodic queues: a receiver that hangs holds a bulk slot, never a sweep or a submit.
    "contacts.notify.send_delivery": {"queue": BULK_QUEUE},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Every task's time limits (a task may set its own): at the soft limit the task gets SoftTimeLimitExceeded
# and its transaction rolls back; at the hard limit its process is killed. A task stopped by either is
# acked as failed, never redelivered (acks_on_failure_or_timeout); the sweep and the reconciler find its
# work again. Our tasks take milliseconds to seconds: a minute means something is stuck.
CELERY_TASK_SOFT_TIME_LIMIT = env_number("CELERY_TASK_SOFT_TIME_LIMIT", 60.0, minimum=1.0)
CELERY_TASK_TIME_LIMIT = env_number("CELERY_TASK_TIME_LIMIT", CELERY_TASK_SOFT_TIME_LIMIT + 30.0, minimum=2.0)
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
# A message whose worker died (SIGKILL, out of memory) is redelivered, at most this many deliveries in all
# (ccpdash.celery.DeliveryCappedTask): a message that kills every worker that takes it is then dropped.
CELERY_TASK_MAX_DELIVERIES = env_int("CELERY_TASK_MAX_DELIVERIES", 3, minimum=1)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": f"{REDIS_PREFIX}:celery:",
    # Lost messages are found by the reconciler within seconds; this is only the backstop.
    "visibility_timeout": 3600,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing happens after commit, inside web requests: with Redis down, give up fast (the
# reconciler re-enqueues from the database) rather than hold an API answer for seconds.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TIMEZONE = "UTC"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# --- Read API (README "Read API"; contacts.readapi) ---
# Explicit and minimal: JSON only (no browsable API), a personal token or the session, nothing allowed without a
# permission the view names, no DRF throttle (wrong tokens count in axes' failed logins, contacts.readapi.auth).
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "contacts.readapi.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [],
    # Keyset pages, never OFFSET (contacts.readapi.paging; the contact list pages on (created_at, id)).
    "DEFAULT_PAGINATION_CLASS": "contacts.readapi.paging.IdKeysetPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ccpdash read API",
    "DESCRIPTION": "Read-only JSON of the queues' figures, contacts, alert groups, bulk jobs and the audit log, "
                   "with the permissions of the token's user. Tokens: /account/tokens.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the drf-spectacular-sidecar package (served by WhiteNoise), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "/favicon.ico",
    # One named enum per choice set (several fields share "kind" and "state" with different sets).
    "ENUM_NAME_OVERRIDES": {
        "ContactKindEnum": "contacts.core.positions.Kind",
        "ContactStateEnum": "contacts.core.positions.State",
        "ReasonEnum": "contacts.core.positions.Reason",
        "SourceEnum": "contacts.core.positions.Source",
        "BulkJobKindEnum": "contacts.workflows.models.BulkJobKind",
        "BulkJobStateEnum": "contacts.workflows.models.BulkJobState",
        "AuditActionEnum": "contacts.workflows.models.AuditAction",
        "LevelEnum": "contacts.dashboard.kpis.LEVELS",
        "AlertKindEnum": "contacts.readapi.serializers.ALERT_KINDS",
    },
}

# --- Throttling (README "Throttling") ---
AUTHENTICATION_BACKENDS = [
    # First: a locked-out username or client is refused before any password is checked (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins are AccessAttempt rows in the database, so every process sees one count. A username is locked after
# this many failures from any clients, and a client address after this many with any usernames; wrong feed tokens
# have the same limit and cool-off, counted in Redis apart from the logins (contacts.api.throttle).
AXES_FAILURE_LIMIT = env_int("AUTH_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_number("AUTH_COOLOFF_SECONDS", 900, minimum=1))
# Per username and per address; a failure without a username (a wrong API token) per address only.
AXES_LOCKOUT_PARAMETERS = "ccpdash.throttling.lockout_parameters"
AXES_CLIENT_IP_CALLABLE = "ccpdash.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "ccpdash.throttling.locked_out"
# A success must not clear the count: it would clear its client address's, the other usernames tried from there too.
AXES_RESET_ON_SUCCESS = False
# No login history: axes would keep a row per login for ever, and nothing here purges it.
AXES_DISABLE_ACCESS_LOG = True
# The API abuse guard: requests a minute per client on the CCP API's paths (contacts.api.middleware); 0 turns it off,
# as by default, so CCP clients keep the contract's behaviour at any rate and the benchmark is not throttled.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 0)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE is not a known time zone (got {TIME_ZONE!r})") from None
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the source folders so `make run` and the tests need no collectstatic;
# a deployment may run collectstatic and turn this off with WHITENOISE_USE_FINDERS=0.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
# Files a browser asks for at the site's root rather than under STATIC_URL: /favicon.ico.
WHITENOISE_ROOT = BASE_DIR / "root_files"

# CCP clients call the API from any origin (CCP 11.6+); the dashboard is same-origin only.
CORS_URLS_REGEX = r"^/(ccp|ccp-webapp)/.*$"
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_ALLOW_ALL_ORIGINS = not CORS_ALLOWED_ORIGINS
# Retry-After too: a browser client told 503 must be able to read when to come back.
CORS_EXPOSE_HEADERS = ["Location", "Retry-After"]

DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # A refused request (4xx) is one line, no traceback; 403s and suspicious requests at WARNING, the rest INFO.
    "filters": {"one_line_refusals": {"()": "ccpdash.request_log.OneLineRefusals"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # axes: its failures and lockouts are warnings; its two lines of chatter per failed login are not worth keeping.
        "axes": {"level": "WARNING"},
        **{name: {"filters": ["one_line_refusals"]} for name in REFUSAL_LOGGERS},
    },
}

# --- CCP API ---
# A status URL answers 404 once an unfinished contact has gone this long without a poll (spec §4),
# as CCP forgets contacts nobody watches; checked when read, so no sweep is needed. 0 turns it off.
CCP_STATUS_EXPIRY_SECONDS = env_int("CCP_STATUS_EXPIRY_SECONDS", 300)

# Mock CCE time scales. Every time the mock contact center takes is one of these, so the demo runs
# at human pace while tests shrink them through the environment (a worker started by a test
# inherits them). Timed events are due times in the database, acted on by the periodic sweep.
# Seconds between two sweeps of due events (task completions, freed slots, cancels, task life).
CCE_SWEEP_SECONDS = env_number("CCE_SWEEP_SECONDS", 1.0, minimum=0.05)
# How long the CCE takes to remove a contact from its queue after a cancel request: routing may
# win in the meantime (C7/T8). 0 performs a cancel as soon as its task runs.
CCE_CANCEL_LATENCY_SECONDS = env_number("CCE_CANCEL_LATENCY_SECONDS", 2.0)
# Multiplies every agent's handle time (and so the estimated wait); 0.01 turns 3–10 s into 30–100 ms.
CCE_HANDLE_TIME_SCALE = env_number("CCE_HANDLE_TIME_SCALE", 1.0)
# The throttle admits at most CceSettings.throttle_per_minute contacts in any window of this many
# seconds (spec §6 says per minute; tests shorten the window instead of waiting minutes).
CCE_THROTTLE_WINDOW_SECONDS = env_number("CCE_THROTTLE_WINDOW_SECONDS", 60.0, minimum=0.1)
# Seconds between two runs of the reconciler, which re-does what a killed worker or a restarted
# broker lost: the throttle backlog, renotifies in flight, queued contacts left while the connection is down.
CCE_RECONCILE_SECONDS = env_number("CCE_RECONCILE_SECONDS", 2.0, minimum=0.05)
# A renotify in flight this long has lost its message: the reconciler resubmits it.
CCE_RECONCILE_AFTER_SECONDS = env_number("CCE_RECONCILE_AFTER_SECONDS", 5.0)
# Seconds every broadcast waits before it is sent: only the benchmark's probe sets it (README "Benchmarks").
BROADCAST_DELAY_SECONDS = env_number("BROADCAST_DELAY_SECONDS", 0.0)
# A web process sends each dashboard at most one frame per this many seconds; what comes meanwhile joins
# the next frame. The first frame after a quiet spell goes at once (contacts.live.hub).
LIVE_FRAME_SECONDS = env_number("LIVE_FRAME_SECONDS", 0.02)
# Frames waiting for one socket, at most: more, and the browser has stopped reading; it is told to resync.
LIVE_SOCKET_MAX_FRAMES = env_int("LIVE_SOCKET_MAX_FRAMES", 250, minimum=1)
# Seconds between two snapshots of the overview's figures and the alert news, computed by one web process
# (its hub claims the interval in Redis) and pushed to every dashboard (contacts.dashboard.snapshots).
LIVE_SNAPSHOT_SECONDS = env_number("LIVE_SNAPSHOT_SECONDS", 1.0, minimum=0.2)

# Beat may run on several hosts; only the holder of a Redis lock sends (ccpdash.beat). A beat that dies
# hands over after this many seconds; beat ticks (and renews the lock) three times as often.
BEAT_LOCK_SECONDS = env_number("BEAT_LOCK_SECONDS", 10.0, minimum=0.3)
CELERY_BEAT_SCHEDULER = "ccpdash.beat:SingleBeatScheduler"
CELERY_BEAT_MAX_INTERVAL = BEAT_LOCK_SECONDS / 3

# How often today's move tallies are compared with a recount of today's transitions (contacts.figures.tallies).
TALLY_CHECK_SECONDS = env_number("TALLY_CHECK_SECONDS", 600.0, minimum=1.0)

# --- Notifications (README "Notifications") ---
# Seconds between two checks of the notification rules (and of deliveries due for a retry).
NOTIFY_CHECK_SECONDS = env_number("NOTIFY_CHECK_SECONDS", 2.0, minimum=0.1)
# A discard group's message waits until no new discard came for this long, so a burst is one message with
# its count; but never longer than NOTIFY_MAX_HOLD_SECONDS after it became due.
NOTIFY_SETTLE_SECONDS = env_number("NOTIFY_SETTLE_SECONDS", 3.0)
NOTIFY_MAX_HOLD_SECONDS = env_number("NOTIFY_MAX_HOLD_SECONDS", 30.0)
# Connect and read timeout of each webhook, Slack or Teams attempt (and of the mail server).
NOTIFY_TIMEOUT_SECONDS = env_number("NOTIFY_TIMEOUT_SECONDS", 5.0, minimum=0.1)
# Attempts per delivery before it is failed; the wait after the n-th failure is NOTIFY_RETRY_SECONDS * 2^(n-1),
# at most NOTIFY_RETRY_MAX_SECONDS.
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 5, minimum=1)
NOTIFY_RETRY_SECONDS = env_number("NOTIFY_RETRY_SECONDS", 10.0)
NOTIFY_RETRY_MAX_SECONDS = env_number("NOTIFY_RETRY_MAX_SECONDS", 600.0)
# The site's address as a message's reader opens it (links in webhook, chat and email messages).
NOTIFY_SITE_URL = os.environ.get("NOTIFY_SITE_URL", "http://127.0.0.1:8000")
# Days the delivery log keeps a sent or failed delivery (purged hourly by beat); 0 keeps them for ever.
NOTIFY_KEEP_DAYS = env_int("NOTIFY_KEEP_DAYS", 30, minimum=0)
# Email channels go through Django's mail backend: printed to the worker's log unless EMAIL_BACKEND says SMTP.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = NOTIFY_TIMEOUT_SECONDS
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ccpdash@localhost")

CELERY_BEAT_SCHEDULE = {
    "dashboard-heartbeat": {
        "task": "contacts.broadcast.send_heartbeat",
        "schedule": 5.0,
        # Only the newest heartbeat matters: one nobody ran in time is dropped, not queued up.
        "options": {"expires": 5.0},
    },
    "cce-sweep-due": {
        "task": "contacts.tasks.sweep_due",
        "schedule": CCE_SWEEP_SECONDS,
        # A sweep nobody ran in time is replaced by the next one, not queued up behind it.
        "options": {"expires": max(CCE_SWEEP_SECONDS * 5, 5.0)},
    },
    "alerts-check-queues": {
        "task": "contacts.queue_alerts.check_queue_alerts",
        "schedule": 5.0,
        "options": {"expires": 5.0},
    },
    "workflows-resume-bulk-jobs": {
        "task": "contacts.workflows.resume_bulk_jobs",
        "schedule": 10.0,
        "options": {"expires": 10.0},
    },
    "retention-purge": {
        "task": "contacts.retention.purge_finished_contacts",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    # The figures' rollups: recent periods merged every minute, today's checked against a recount.
    "figures-fold-tallies": {
        "task": "contacts.figures.fold_tallies",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "figures-check-tallies": {
        "task": "contacts.figures.check_tallies",
        "schedule": TALLY_CHECK_SECONDS,
        "options": {"expires": TALLY_CHECK_SECONDS},
    },
    "notify-check": {
        "task": "contacts.notify.check_notifications",
        "schedule": NOTIFY_CHECK_SECONDS,
        "options": {"expires": max(NOTIFY_CHECK_SECONDS * 2, 5.0)},
    },
    "notify-purge": {
        "task": "contacts.notify.purge_deliveries",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    "cce-reconcile": {
        "task": "contacts.tasks.reconcile",
        "schedule": CCE_RECONCILE_SECONDS,
        "options": {"expires": max(CCE_RECONCILE_SECONDS * 5, 5.0)},
    },
}

# --- Retention ---
# Days a finished contact (handled or discarded) is kept after its last move; older ones are purged in
# batches by Celery beat (contacts.workflows.retention). Audit entries are always kept. 0 keeps contacts forever.
RETENTION_DAYS = env_int("RETENTION_DAYS", 30)
# Bulk resubmits (contacts.workflows.jobs) go at most this share of the CCE throttle's rate, so a bulk job
# leaves room for live traffic and never fills the throttle's backlog.
WORKFLOWS_BULK_SHARE = env_number("WORKFLOWS_BULK_SHARE", 0.5)
if not 0 < WORKFLOWS_BULK_SHARE <= 1:
    raise ImproperlyConfigured(f"WORKFLOWS_BULK_SHARE must be above 0 and at most 1 (got {WORKFLOWS_BULK_SHARE})")

# --- Metrics (README "Metrics") ---
# /metrics answers a scraper that presents METRICS_TOKEN as a bearer token, or that connects from one of
# METRICS_ALLOWED_NETWORKS (CIDRs, comma-separated); with neither set it answers nobody (contacts.metrics.views).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name} must list networks like 10.0.0.0/8 or ::1/128 (got {item!r})") from None
    return networks


METRICS_ALLOWED_NETWORKS = env_networks("METRICS_ALLOWED_NETWORKS")
# The per-process instruments (requests, latencies, sockets, transitions) live in files here, one set per
# process, and a scrape of any web process sums those of every process of the host, so all of a host's
# processes must share the directory. prometheus-client reads the variable when it is first imported,
# which is after these settings in every process (contacts.metrics.instruments).
PROMETHEUS_MULTIPROC_DIR = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or BASE_DIR / "var" / "prometheus")
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)

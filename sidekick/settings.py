"""Settings for the Sidekick control plane, read from the environment in this one place.

The defaults make `make run` work on a bare machine: SQLite under var/, an in-memory channel
layer, debug on. Production sets DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY, ALLOWED_HOSTS and
SIDEKICK_DEBUG=0.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from sidekick.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SIDEKICK_VAR_DIR", BASE_DIR / "var"))


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = _env_bool("SIDEKICK_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "dev-only-insecure-secret-key-change-me"
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")

# The seed-compatible single bearer key with full access (header only). Unset: database keys only.
SDK_KEY = os.environ.get("SDK_KEY") or None

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "flags",
    "streaming",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "sidekick.middleware.RouteLabelMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sidekick.urls"
ASGI_APPLICATION = "sidekick.asgi.application"
WSGI_APPLICATION = None

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'sidekick.sqlite3'}",
        conn_max_age=int(os.environ.get("SIDEKICK_DB_CONN_MAX_AGE", "0")),
    )
}
# PostgreSQL connections come from a pool. Under daphne every request runs in a thread of its own,
# so persistent per-thread connections (CONN_MAX_AGE) are never reused and each write would open
# a new connection; a pool shares them across threads. SIDEKICK_DB_POOL=0 turns it off.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and _env_bool(
    "SIDEKICK_DB_POOL", True
):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django's pool refuses persistent connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("SIDEKICK_DB_POOL_MIN_SIZE", "1")),
        "max_size": int(os.environ.get("SIDEKICK_DB_POOL_MAX_SIZE", "20")),
        # How long a request waits for a free (or new) connection before it fails with a 503.
        "timeout": float(os.environ.get("SIDEKICK_DB_POOL_TIMEOUT", "5")),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL") or None
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": os.environ.get(
                "SIDEKICK_CHANNEL_LAYER", "channels_redis.pubsub.RedisPubSubChannelLayer"
            ),
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The stream: keep-alive period, browser origins allowed to open it, how often each process
# re-reads flag versions from the database to repair a missed event.
SIDEKICK_KEEPALIVE_SECONDS = float(os.environ.get("SIDEKICK_KEEPALIVE_SECONDS", "15"))
SIDEKICK_CORS_ORIGINS = _env_list("SIDEKICK_CORS_ORIGINS", "*")
SIDEKICK_RECONCILE_SECONDS = float(os.environ.get("SIDEKICK_RECONCILE_SECONDS", "30"))
# How often each process reads the database's change watermark, so that changes no relay brought
# (a management command; processes without Redis) reach it promptly (streaming/watermark_poll.py).
SIDEKICK_WATERMARK_POLL_SECONDS = float(os.environ.get("SIDEKICK_WATERMARK_POLL_SECONDS", "1"))
# `<project>/<environment>` that the v1 paths (/api/flags, /api/evaluate, /stream) address for
# keys that reach every environment (admin keys, SDK_KEY); created on first use when missing.
SIDEKICK_DEFAULT_ENVIRONMENT = os.environ.get("SIDEKICK_DEFAULT_ENVIRONMENT", "default/production")
# Streams and what was loaded at start are frozen out of full garbage collections, which then
# happen every SIDEKICK_GC_THAW_SECONDS at a quiet moment (streaming/collector.py).
SIDEKICK_GC_FREEZE = _env_bool("SIDEKICK_GC_FREEZE", True)
SIDEKICK_GC_THAW_SECONDS = float(os.environ.get("SIDEKICK_GC_THAW_SECONDS", "600"))

# Stream limits (streaming/limits.py reads them; docs/stream.md "Limits" explains each default).
# All are per server process: with N workers or instances a deployment holds N times as many.
# At most this many open streams per process; unset: the process's descriptor limit
# (RLIMIT_NOFILE) less a reserve for REST requests, the database pool, Redis and files.
SIDEKICK_STREAMS_PER_PROCESS = int(os.environ.get("SIDEKICK_STREAMS_PER_PROCESS", "0") or 0)
# At most this many open streams per API key per process; unset: three quarters of the process
# limit, so one key (leaked, or a client stuck in a reconnect loop) cannot take every slot.
SIDEKICK_STREAMS_PER_KEY = int(os.environ.get("SIDEKICK_STREAMS_PER_KEY", "0") or 0)
# The `Retry-After` of a stream refused for a limit.
SIDEKICK_STREAM_LIMIT_RETRY_AFTER_SECONDS = int(
    os.environ.get("SIDEKICK_STREAM_LIMIT_RETRY_AFTER_SECONDS", "10")
)
# A stream whose bytes not yet taken by its socket pass this bound is a slow reader: it is sent
# `goodbye` `slow_reader` and closed, so its memory stays bounded whatever the client does.
SIDEKICK_STREAM_MAX_UNSENT_BYTES = int(
    os.environ.get("SIDEKICK_STREAM_MAX_UNSENT_BYTES", str(1024 * 1024))
)
# Streams are closed (`goodbye` `max_age`) after this many seconds, give or take 20%, so that
# load spreads again over processes started later; 0 turns it off.
SIDEKICK_STREAM_MAX_AGE_SECONDS = float(os.environ.get("SIDEKICK_STREAM_MAX_AGE_SECONDS", "3600"))
# Graceful shutdown (sidekick/shutdown.py; docs/operations.md "Shutdown"). On SIGTERM a server
# process stops accepting, tells every stream `goodbye` `shutdown` with a reconnect delay spread
# over this window (so clients come back over it, not all at once), lets requests in flight
# finish, and exits within the timeout: below Kubernetes' default 30 s grace period.
SIDEKICK_SHUTDOWN_GOODBYE_WINDOW_SECONDS = float(
    os.environ.get("SIDEKICK_SHUTDOWN_GOODBYE_WINDOW_SECONDS", "10")
)
SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS = float(os.environ.get("SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS", "20"))

# The deployment's identity on a shared channel layer (streaming/relay.py, flags/deployment.py):
# its id names the relay's group and its secret signs every relayed message. Both are made once
# in the database by the first migrate and shared by every instance on that database; set them
# here only to pin them (e.g. a rebuilt database that must keep talking to running instances).
SIDEKICK_DEPLOYMENT_ID = os.environ.get("SIDEKICK_DEPLOYMENT_ID") or None
SIDEKICK_RELAY_SECRET = os.environ.get("SIDEKICK_RELAY_SECRET") or None
if SIDEKICK_DEPLOYMENT_ID is not None and not re.fullmatch(
    r"[A-Za-z0-9_.-]{1,64}", SIDEKICK_DEPLOYMENT_ID
):
    raise ImproperlyConfigured(
        "SIDEKICK_DEPLOYMENT_ID must be 1-64 characters of A-Z a-z 0-9 _ . -"
    )
if SIDEKICK_RELAY_SECRET is not None and len(SIDEKICK_RELAY_SECRET) < 32:
    raise ImproperlyConfigured("SIDEKICK_RELAY_SECRET must be at least 32 characters")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_AUTHENTICATION_CLASSES": ["flags.authentication.BearerKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["flags.authentication.CanReadFlags"],
    "DEFAULT_PARSER_CLASSES": ["flags.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "flags.exception_handler.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Sidekick API",
    "DESCRIPTION": "Feature flags: CRUD, audit history, server-side evaluation.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets from the drf-spectacular-sidecar app (served under STATIC_URL), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# A request body is at most 1 MiB (the wire contract).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("PUBLIC_DIR") or VAR_DIR / "public")

# Operations: logs, metrics, TLS behind a proxy, admin login limits (docs/operations.md). -------

LOG_LEVEL = os.environ.get("SIDEKICK_LOG_LEVEL", "INFO")
# `text` (default) or `json`: one object per line for log collectors. Secrets are redacted in both.
SIDEKICK_LOG_FORMAT = os.environ.get("SIDEKICK_LOG_FORMAT", "text").strip().lower()
LOGGING = logging_config(log_format=SIDEKICK_LOG_FORMAT, level=LOG_LEVEL)

# /metrics answers only a request bearing this token; unset, the endpoint does not exist.
SIDEKICK_METRICS_TOKEN = os.environ.get("SIDEKICK_METRICS_TOKEN") or None
# Where `manage.py serve --workers N` keeps the workers' shared metric files (emptied at start);
# unset, a fresh temporary directory.
SIDEKICK_METRICS_DIR = os.environ.get("SIDEKICK_METRICS_DIR") or None

# TLS ends at the proxy in front. Everything that depends on it is off by default and on in the
# production environment docs/deploy.md lists (`manage.py check --deploy` names any left off).
if _env_bool("SIDEKICK_TRUST_X_FORWARDED_PROTO", False):
    # Only behind a proxy that sets this header itself: a client could otherwise claim HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _env_bool("SIDEKICK_HTTPS_REDIRECT", False)
# Probes and scrapers talk plain HTTP to the process itself (they are answered before Django
# anyway; listed so the rule reads complete).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SIDEKICK_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SIDEKICK_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _env_bool("SIDEKICK_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _env_bool("SIDEKICK_SECURE_COOKIES", False)
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Admin logins: django-axes locks out a client address, and separately a user name, after
# SIDEKICK_LOGIN_FAILURE_LIMIT failures, for SIDEKICK_LOGIN_COOLOFF_MINUTES. Every failure is
# logged (logger `axes`) and kept in the database (the admin page Axes: Access failures).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("SIDEKICK_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("SIDEKICK_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# The audit line names who tried and from where (axes masks both by default); passwords are
# never logged.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# The client address is REMOTE_ADDR, which daphne --proxy-headers takes from X-Forwarded-For.

# Hardening (docs/security.md has every limit and the layer that enforces it).
# A request (headers and body) must arrive whole within this many seconds of the connection being
# ready for it, or it is answered 408 and closed (sidekick/server.py); 0 turns the bound off.
SIDEKICK_REQUEST_READ_TIMEOUT_SECONDS = float(
    os.environ.get("SIDEKICK_REQUEST_READ_TIMEOUT_SECONDS", "30")
)
# Local development without keys: only when configured so at start, never with debug off
# (flags/startup.py refuses it). No change of data (revoking the last key) ever switches
# authentication off.
SIDEKICK_AUTH_DISABLED = _env_bool("SIDEKICK_AUTH_DISABLED", False)
# True when DJANGO_SECRET_KEY is unset and the development secret above is in use: refused with
# debug off (flags/startup.py).
SIDEKICK_DEV_SECRET_KEY = not os.environ.get("DJANGO_SECRET_KEY")

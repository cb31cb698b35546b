"""Daybrief settings: one module, deployment knobs from the environment.

A fresh clone runs with no configuration at all: SQLite under var/, django-q2 on
the ORM broker, email written to a readable outbox under var/outbox/.
"""

import sys
from pathlib import Path
from typing import Any

import dj_database_url

from newsletter.env import (
    debug_by_default,
    email_settings,
    env_bool,
    env_int,
    env_list,
    env_str,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DAYBRIEF_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# DEBUG unset or 1: a developer's machine, with the laptop defaults below (a generated
# SECRET_KEY, any host, the demo newsroom, feeds on loopback, quiet production checks).
DAYBRIEF_DEVELOPMENT = env_bool("DEBUG", True)
# Django's own debug mode follows DEBUG when it is set. Unset, it is on only in
# `manage.py runserver` (the web server of `make run`), for tracebacks in pages: it also
# keeps up to 9,000 formatted SQL queries per connection, which long commands
# (send_digest, evaluate_clustering) and the task worker would carry for nothing.
DEBUG = env_bool("DEBUG", debug_by_default(sys.argv))
SECRET_KEY = secret_key(VAR_DIR, DAYBRIEF_DEVELOPMENT)
PORT = env_int("PORT", 8000)
SITE_URL = env_str("SITE_URL", f"http://localhost:{PORT}").rstrip("/")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"] if DAYBRIEF_DEVELOPMENT else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

# --- HTTPS and cookies (production; inert on a laptop's http://localhost) ----
_HTTPS = SITE_URL.startswith("https://") and not DAYBRIEF_DEVELOPMENT
# The proxy terminates TLS and says so in X-Forwarded-Proto; only trust it behind one.
if env_bool("DAYBRIEF_BEHIND_PROXY", _HTTPS):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
# Load balancers probe over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _HTTPS
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 24 * 7)
X_FRAME_OPTIONS = "DENY"
# First-party scripts and styles only (newsletter/security.py; the staff-only admin may
# also style inline).
DAYBRIEF_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "https:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.syndication",
    "django_q",
    "anymail",
    "topics",
    "newsletter",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "newsletter.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Above the page cache, whose answers need the header too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Answers readers' cached pages before the session, CSRF, auth and messages work.
    "topics.pagecache.CachedPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "newsletter.urls"
WSGI_APPLICATION = "newsletter.wsgi.application"

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
                "newsletter.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'daybrief.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE transactions
    # and a busy timeout make writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every start without it
STATICFILES_DIRS = [BASE_DIR / "static"]
# Whitenoise serves static files from the app; production gets compressed files with
# content-hashed names (needs `collectstatic`, which `make serve` runs).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DAYBRIEF_DEVELOPMENT
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Email -----------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Daybrief <digest@daybrief.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
OUTBOX_DIR = VAR_DIR / "outbox"
_email_url = env_str("EMAIL_URL")
if not _email_url and env_str("EMAIL_HOST"):
    _email_url = f"smtp://{env_str('EMAIL_HOST')}:{env_int('EMAIL_PORT', 25)}"
_email = email_settings(_email_url or "outbox://")
# django-anymail: provider options from EMAIL_URL=anymail://<esp>?..., and the
# "user:password" the provider's tracking webhooks must present (newsletter/webhooks.py).
_anymail = _email.pop("ANYMAIL", None)
ANYMAIL: dict[str, str] = _anymail if isinstance(_anymail, dict) else {}
if env_str("ANYMAIL_WEBHOOK_SECRET"):
    ANYMAIL["WEBHOOK_SECRET"] = env_str("ANYMAIL_WEBHOOK_SECRET")
globals().update(_email)
# Where mailto: unsubscribes go (RFC 2369); empty leaves the header https-only.
UNSUBSCRIBE_MAILTO = env_str("UNSUBSCRIBE_MAILTO")
POSTAL_ADDRESS = env_str("POSTAL_ADDRESS", "Daybrief, 1 Example Street, Example City")

# --- Delivery (newsletter/sending.py, leases.py, throttling.py) ------------------
# How long a worker holds claimed deliveries before others may take them over.
DAYBRIEF_LEASE_SECONDS = env_int("DAYBRIEF_LEASE_SECONDS", 300)
DAYBRIEF_SEND_BATCH = env_int("DAYBRIEF_SEND_BATCH", 200)
# SMTP connections each sending worker keeps open: messages in flight at once, recorded
# in one commit (newsletter/transports.py). Also the most readers a killed worker can
# leave "uncertain" (docs/delivery.md).
DAYBRIEF_SEND_CONNECTIONS = env_int("DAYBRIEF_SEND_CONNECTIONS", 8)
# On PostgreSQL, wait for the disk at each "sent" record: safe even if the database
# server itself crashes mid-send, but a message then costs a disk flush (docs/delivery.md).
DAYBRIEF_SEND_SYNC_COMMIT = env_bool("DAYBRIEF_SEND_SYNC_COMMIT", False)
# Messages per second for all workers together, and per recipient domain
# ("gmail.com=20,outlook.com=10"); 0 or absent means no limit.
DAYBRIEF_SEND_RATE = env_int("DAYBRIEF_SEND_RATE", 0)
DAYBRIEF_DOMAIN_RATES = env_list("DAYBRIEF_DOMAIN_RATES", [])
# Soft bounces (mailbox full...) recorded for an address before it is suppressed.
DAYBRIEF_SOFT_BOUNCE_LIMIT = env_int("DAYBRIEF_SOFT_BOUNCE_LIMIT", 3)
# Signups allowed per hour from one IP address and for one email address.
DAYBRIEF_SIGNUPS_PER_IP_HOUR = env_int("DAYBRIEF_SIGNUPS_PER_IP_HOUR", 10)
DAYBRIEF_SIGNUPS_PER_ADDRESS_HOUR = env_int("DAYBRIEF_SIGNUPS_PER_ADDRESS_HOUR", 3)

# --- Background work (django-q2) -------------------------------------------
REDIS_URL = env_str("REDIS_URL")
Q_CLUSTER: dict[str, Any] = {
    "name": env_str("Q_CLUSTER_NAME", "daybrief"),
    "workers": env_int("Q_WORKERS", 2),
    # timeout < retry: a broker with receipts must never hand a running task out again.
    "timeout": 600,
    "retry": 720,
    "max_attempts": 2,
    # A failed task is recorded, not re-run blindly: the ledgers decide what is redone.
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "label": "Tasks",
    "sync": env_bool("Q_SYNC", False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5

# --- Cache: rendered public pages (topics/pagecache.py) ---------------------
# Redis when there is one, shared by every web and worker host (a worker's clustering run
# must retire the web servers' pages); else files under var/cache, shared by the
# processes of one machine.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": Q_CLUSTER["name"],
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # Past this many files a third go at random (a page per topic and day adds up).
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }
# How long a cached page may live: every change to topics retires all pages at once, so
# this only bounds how stale relative times ("3 hours ago") get. 0 turns the cache off.
DAYBRIEF_PAGE_CACHE_SECONDS = env_int("DAYBRIEF_PAGE_CACHE_SECONDS", 60)

# --- Daybrief ---------------------------------------------------------------
# /metrics answers a request bearing this token; without one, only with DEBUG on.
DAYBRIEF_METRICS_TOKEN = env_str("DAYBRIEF_METRICS_TOKEN")
# Retention (newsletter/retention.py, daily): days to keep each kind of row; 0 = forever.
DAYBRIEF_RETAIN_ARTICLES_DAYS = env_int("DAYBRIEF_RETAIN_ARTICLES_DAYS", 90)
DAYBRIEF_RETAIN_DELIVERIES_DAYS = env_int("DAYBRIEF_RETAIN_DELIVERIES_DAYS", 180)
DAYBRIEF_RETAIN_EVENTS_DAYS = env_int("DAYBRIEF_RETAIN_EVENTS_DAYS", 30)
DAYBRIEF_DIGEST_TIME = env_str("DAYBRIEF_DIGEST_TIME", "07:00")  # local time, TIME_ZONE
DAYBRIEF_FETCH_MINUTES = env_int("DAYBRIEF_FETCH_MINUTES", 15)
DAYBRIEF_CLUSTER_WINDOW_HOURS = env_int("DAYBRIEF_CLUSTER_WINDOW_HOURS", 72)
DAYBRIEF_DIGEST_MAX_TOPICS = env_int("DAYBRIEF_DIGEST_MAX_TOPICS", 12)
# Topic cards per page of the public index ("More topics" pages on).
DAYBRIEF_INDEX_TOPICS = env_int("DAYBRIEF_INDEX_TOPICS", 30)
# Topic deks and summaries: extractive unless an OpenAI-compatible API base URL is set
# (e.g. https://api.openai.com/v1); any failure falls back to the extractive text.
DAYBRIEF_SUMMARIZER_URL = env_str("DAYBRIEF_SUMMARIZER_URL", "")
DAYBRIEF_SUMMARIZER_MODEL = env_str("DAYBRIEF_SUMMARIZER_MODEL", "gpt-4o-mini")
DAYBRIEF_SUMMARIZER_API_KEY = env_str("DAYBRIEF_SUMMARIZER_API_KEY", "")
DAYBRIEF_SUMMARIZER_TIMEOUT = env_int("DAYBRIEF_SUMMARIZER_TIMEOUT", 20)  # seconds
# Loopback and private addresses are refused when fetching feeds unless allowed:
# the demo newsroom and the tests serve feeds from this machine.
DAYBRIEF_ALLOW_PRIVATE_FEEDS = env_bool("DAYBRIEF_ALLOW_PRIVATE_FEEDS", DAYBRIEF_DEVELOPMENT)
# Demo mode: the site serves the offline demo newsroom's feeds under /demo/.
DAYBRIEF_DEMO = env_bool("DAYBRIEF_DEMO", DAYBRIEF_DEVELOPMENT)
DAYBRIEF_USER_AGENT = env_str(
    "DAYBRIEF_USER_AGENT", f"Daybrief/0.1 (+{SITE_URL}; feed fetcher for a daily digest)"
)

# LOG_FORMAT=json: one JSON object per line for log shippers.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ValueError(f"LOG_FORMAT={LOG_FORMAT!r} is not one of plain, json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "newsletter.jsonlog.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

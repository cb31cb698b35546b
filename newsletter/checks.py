"""System checks for unsafe production configuration, with stable ids.

A fresh clone runs on defaults that are right for a laptop (SQLite, the ORM broker, the
local outbox). In production (DEBUG=0) those same defaults lose mail or lock the database, so each
is named here, and `manage.py check` (and every migrate/qcluster start) shows it.
The ids are stable so operators can silence one on purpose (SILENCED_SYSTEM_CHECKS).
"""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

# Backends that never reach a reader's inbox.
UNDELIVERED_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "newsletter.outbox.OutboxEmailBackend",
    "anymail.backends.test.EmailBackend",
    "anymail.backends.console.EmailBackend",
}
EXAMPLE_POSTAL_ADDRESS = "Daybrief, 1 Example Street, Example City"
SQLITE = "django.db.backends.sqlite3"


def engine(alias: str) -> str:
    return str(settings.DATABASES[alias]["ENGINE"])


def production(function: Any) -> Any:
    """Register a check that only speaks in production (on a laptop all is fine)."""

    def check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
        return [] if settings.DAYBRIEF_DEVELOPMENT else function()

    check.__name__ = function.__name__
    register(check)
    return function


@production
def check_email_backend() -> list[CheckMessage]:
    if settings.EMAIL_BACKEND not in UNDELIVERED_BACKENDS:
        return []
    return [
        Warning(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: digests will not reach anyone.",
            hint="Set EMAIL_URL=smtp+tls://user:password@host:587 (or smtps://...).",
            id="daybrief.W001",
        )
    ]


@production
def check_sqlite_workers() -> list[CheckMessage]:
    workers = int(settings.Q_CLUSTER.get("workers", 1))
    if engine("default") != SQLITE or workers <= 1:
        return []
    return [
        Warning(
            f"SQLite with {workers} task workers: concurrent writers fail with "
            "'database is locked'.",
            hint="Use PostgreSQL (DATABASE_URL=postgres://...) or set Q_WORKERS=1.",
            id="daybrief.W002",
        )
    ]


@production
def check_orm_broker() -> list[CheckMessage]:
    alias = settings.Q_CLUSTER.get("orm")
    if not alias or engine(alias) != SQLITE:
        return []
    return [
        Warning(
            "The task queue uses the ORM broker on SQLite, which ignores row locks and "
            "locks up under the web server's writes.",
            hint="Set REDIS_URL=redis://host:6379/0, or move DATABASE_URL to PostgreSQL.",
            id="daybrief.W003",
        )
    ]


@production
def check_webhook_secret() -> list[CheckMessage]:
    # The tracking webhooks under /anymail/ are always mounted; without a secret,
    # django-anymail accepts any POST.
    if settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return []
    return [
        Warning(
            "No ANYMAIL_WEBHOOK_SECRET: anyone can post fake bounces and complaints to "
            "/anymail/<esp>/tracking/ and unsubscribe readers.",
            hint="Set ANYMAIL_WEBHOOK_SECRET to a random user:password and give your email "
            "provider https://user:password@<site>/anymail/<esp>/tracking/.",
            id="daybrief.W004",
        )
    ]


@production
def check_postal_address() -> list[CheckMessage]:
    address = settings.POSTAL_ADDRESS.strip()
    if address and address != EXAMPLE_POSTAL_ADDRESS:
        return []
    return [
        Warning(
            "POSTAL_ADDRESS is missing or the example: bulk mail must carry the sender's "
            "real postal address (CAN-SPAM) in its footer.",
            hint="Set POSTAL_ADDRESS to your organisation's postal address.",
            id="daybrief.W005",
        )
    ]


@production
def check_site_url() -> list[CheckMessage]:
    if settings.SITE_URL.startswith("https://"):
        return []
    return [
        Warning(
            f"SITE_URL is {settings.SITE_URL}: links in emails and secure cookies need https.",
            hint="Set SITE_URL=https://your.domain (the address readers use).",
            id="daybrief.W006",
        )
    ]

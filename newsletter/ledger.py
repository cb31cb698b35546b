"""The ledger's moves: how a leased Delivery row is recorded as sent, settled or put back.

Only the worker holding a row's lease (newsletter/leases.py) may move it, so every
statement here filters on this worker's owner id. Sending (newsletter/sending.py) and the
transports (newsletter/transports.py) decide when; this module decides what is written.
"""

import datetime as dt
import logging
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from newsletter import esp, leases, suppression
from newsletter.models import Delivery, DeliveryStatus, SuppressionReason
from newsletter.smtp import AnswerLost

logger = logging.getLogger(__name__)

# A delivery that keeps meeting temporary errors is failed for good after this many tries.
MAX_ATTEMPTS = 5
# Waits before retrying a temporary failure: 1, 2, 4, 8 minutes...
RETRY_BASE = dt.timedelta(minutes=1)
# Enhanced status codes (RFC 3463) that say the reader's address itself does not work:
# bad mailbox, bad domain, bad syntax, moved, no mail domain (null MX), disabled. A bare
# 550 may as well be a server refusing *us* (a blocklist, a policy), which says nothing
# about the reader, so it fails the delivery without suppressing anyone.
DEAD_ADDRESS_CODES = {"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"}

TABLE = Delivery._meta.db_table
# Plain SQL: these run for every message, and the ORM spent ~1 ms of CPU building each.
END_LEASES_SQL = (
    f"UPDATE {TABLE} SET lease_owner = '', lease_until = NULL "
    "WHERE lease_owner = %s AND id IN ({ids})"
)
# One statement for a round of messages: each row gets its own Message-ID from the VALUES
# list, (delivery id, Message-ID) pairs, whose columns both databases name column1, column2.
HAND_OVER_SQL = (
    f"UPDATE {TABLE} SET status = '{DeliveryStatus.SENT}', sent_at = %s, "
    "message_id = handed.column2, attempts = attempts + 1, error = '' "
    "FROM (VALUES {rows}) AS handed "
    f"WHERE {TABLE}.id = handed.column1 AND lease_owner = %s "
    f"AND status = '{DeliveryStatus.SENDING}' RETURNING {TABLE}.id"
)


def hand_over(messages: list[tuple[int, str]], answered: list[int]) -> set[int]:
    """Record each (delivery id, Message-ID) as sent, just before its message leaves for
    good; the ids this worker still held. A message whose id is missing must not leave
    (its lease ended and another worker may own the row now).

    `answered` are deliveries whose server reply came back since the last hand-over:
    their leases end in the same transaction, so a round of messages costs one commit.
    """
    if not messages:
        end_leases(answered)
        return set()
    rows = ", ".join(["(%s, %s)"] * len(messages))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    record = HAND_OVER_SQL.format(rows=rows)
    params = [now, *(value for message in messages for value in message), leases.lease_owner()]
    with connection.cursor() as cursor:
        if answered and connection.vendor != "postgresql":
            # SQLite cannot update in a WITH clause: two statements, one transaction.
            with transaction.atomic():
                cursor.execute(*end_leases_sql(answered))
                cursor.execute(record, params)
                return {row[0] for row in cursor.fetchall()}
        if answered:
            end, end_params = end_leases_sql(answered)
            record, params = f"WITH ended AS ({end}) {record}", [*end_params, *params]
        # One statement, a transaction of its own: one round trip to the database server.
        cursor.execute(record, params)
        return {row[0] for row in cursor.fetchall()}


def end_leases(delivery_ids: list[int]) -> None:
    """The server answered: those rows' outcomes are settled, their leases not needed."""
    if delivery_ids:
        with connection.cursor() as cursor:
            cursor.execute(*end_leases_sql(delivery_ids))


def end_leases_sql(delivery_ids: list[int]) -> tuple[str, list[int | str]]:
    ids = ", ".join(["%s"] * len(delivery_ids))
    return END_LEASES_SQL.format(ids=ids), [leases.lease_owner(), *delivery_ids]


@contextmanager
def commits_without_disk_wait() -> Iterator[None]:
    """On PostgreSQL, while a batch is sent, COMMIT returns once the ledger's record is in
    the server's WAL buffers, without waiting for the disk: a worker killed after it cannot
    lose the record; only a crash of the database server itself, within ~0.6 s, could
    (docs/delivery.md). SQLite already commits so (WAL, synchronous=NORMAL, settings.py)."""
    if connection.vendor != "postgresql" or settings.DAYBRIEF_SEND_SYNC_COMMIT:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        # The connection outlives the batch (other tasks, CONN_MAX_AGE): leave it as found.
        # A connection broken mid-batch is closed anyway; its error is the one to see.
        with suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def held_by_me(delivery_id: int, *statuses: str) -> QuerySet[Delivery]:
    return Delivery.objects.filter(
        pk=delivery_id, lease_owner=leases.lease_owner(), status__in=statuses
    )


def settle(delivery_id: int, status: str, error: str = "", **fields: object) -> str:
    held_by_me(delivery_id, DeliveryStatus.SENDING, DeliveryStatus.SENT).update(
        status=status, error=error, lease_owner="", lease_until=None, **fields
    )
    return status


def release(delivery_ids: list[int]) -> int:
    return Delivery.objects.filter(
        pk__in=delivery_ids,
        lease_owner=leases.lease_owner(),
        status=DeliveryStatus.SENDING,
    ).update(status=DeliveryStatus.PENDING, lease_owner="", lease_until=None)


def settle_error(delivery: Delivery, exc: Exception) -> str:
    """Settle a delivery whose sending raised `exc`; its new status."""
    if isinstance(exc, AnswerLost):
        logger.warning("Delivery %s to %s: the answer was lost", delivery.pk, delivery.subscriber)
        return settle(delivery.pk, DeliveryStatus.UNCERTAIN, exc.why)
    if is_dead_address(exc):
        # A hard bounce at send time: no digest may try this address again.
        suppression.suppress(delivery.subscriber.email, SuppressionReason.HARD_BOUNCE)
    if isinstance(exc, esp.RecipientRejected):
        return settle(delivery.pk, DeliveryStatus.SUPPRESSED, describe(exc))
    return record_failure(delivery, exc)


def record_failure(delivery: Delivery, exc: Exception) -> str:
    attempts = delivery.attempts + 1
    retry = is_transient(exc) and attempts < MAX_ATTEMPTS
    logger.warning(
        "Delivery %s to %s: %s (retry: %s)", delivery.pk, delivery.subscriber, exc, retry
    )
    if not retry:
        return settle(delivery.pk, DeliveryStatus.FAILED, describe(exc), attempts=attempts)
    return settle(
        delivery.pk,
        DeliveryStatus.PENDING,
        describe(exc),
        attempts=attempts,
        send_after=timezone.now() + RETRY_BASE * 2 ** (attempts - 1),
    )


def is_dead_address(exc: Exception) -> bool:
    """True when the refusal says the reader's address does not work (a hard bounce):
    the email provider refused the recipient (invalid, or on its own suppression list),
    or the SMTP server refused it at RCPT with a 5xx dead-address status."""
    if isinstance(exc, AnymailRecipientsRefused | esp.RecipientRejected):
        return True
    if not isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    for code, reply in exc.recipients.values():
        status = reply.split(maxsplit=1)[0].decode(errors="replace") if reply else ""
        if 500 <= code < 600 and status in DEAD_ADDRESS_CODES:
            return True
    return False


def smtp_code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return max(codes) if codes else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    return None


def is_transient(exc: Exception) -> bool:
    """4xx replies and broken connections may work later; 5xx replies and anything else
    (a bad address, a bug) will not. An email provider's API errors say for themselves."""
    api = esp.is_transient(exc)
    if api is not None:
        return api
    code = smtp_code(exc)
    if code is not None:
        return 400 <= code < 500
    return isinstance(exc, OSError)


def describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}{esp.unreported_answer(exc)}"[:2000]

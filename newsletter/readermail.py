"""Emails a reader's own action asks for (the confirmation link, the goodbye), sent by a
django-q2 task rather than by the web request, and sent again while the mail server fails.

The action records a ReaderEmail row in its own transaction and queues the task once that
commits. The row is the ledger: whoever sends claims it first with a conditional update
(pending → sending), so a task that runs twice, or the minutely retry meeting the first
send, mails nobody twice. A temporary failure (4xx, a refused or broken connection) puts
the row back to pending with a later `send_after` (1, 2, 4... minutes, then every 30) and
the minutely schedule retries it, for up to a day; a permanent one fails it. When queuing
itself fails (the Redis broker down), the request sends at once through the same claim,
and if that fails too the row waits for the retry. The request answers the same whatever
happened. A worker killed while sending leaves the row "sending": perhaps lost, never sent
twice, and visible to the operator. Addresses that bounced or reported us as spam are
skipped (see refusal).
"""

import datetime as dt
import functools
import logging
from collections.abc import Callable
from contextlib import nullcontext

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.brokers.orm import ORM
from django_q.tasks import async_task

from newsletter import emails, ledger, suppression
from newsletter.models import (
    ReaderEmail,
    ReaderEmailKind,
    ReaderEmailStatus,
    Subscriber,
    SubscriberStatus,
    SuppressionReason,
)

logger = logging.getLogger(__name__)

TASK = "newsletter.readermail.send_reader_email"
RETRY_BASE = dt.timedelta(minutes=1)
RETRY_MAX = dt.timedelta(minutes=30)
# A confirmation link a day late is still worth sending; past that the reader has gone.
GIVE_UP_AFTER = dt.timedelta(days=1)
# The most emails one minutely retry sends: a backlog after an outage drains over a few
# minutes instead of holding a worker for long.
RETRY_BATCH = 100

MESSAGES: dict[str, Callable[[Subscriber], EmailMultiAlternatives]] = {
    ReaderEmailKind.CONFIRM: emails.confirm_message,
    ReaderEmailKind.GOODBYE: emails.goodbye_message,
}
# The subscriber status in which each kind of email still makes sense when it leaves: a
# reader who confirmed meanwhile needs no link, one who came back no goodbye.
STILL_WANTED: dict[str, str] = {
    ReaderEmailKind.CONFIRM: SubscriberStatus.PENDING,
    ReaderEmailKind.GOODBYE: SubscriberStatus.UNSUBSCRIBED,
}


def queue_reader_email(subscriber_id: int, kind: str) -> None:
    """Record the email in the caller's transaction; queue its sending once that commits."""
    email = ReaderEmail.objects.create(subscriber_id=subscriber_id, kind=kind)
    # robust: whatever happens to the email, the reader's action stands and the page
    # answers as usual.
    transaction.on_commit(lambda: enqueue(email.pk), robust=True)


def enqueue(email_id: int) -> None:
    try:
        broker = queue_broker()
        # Outside a transaction, django-q2's database broker closes a connection that is
        # not persistent (DB_CONN_MAX_AGE=0, the default) and then opens a second one to
        # enqueue; inside one it uses the request's.
        with transaction.atomic() if isinstance(broker, ORM) else nullcontext():
            async_task(TASK, email_id, broker=broker, task_name=f"reader email {email_id}")
    except Exception:
        # The broker is down: send it now, as the request did before there was a queue.
        logger.warning("Could not queue reader email %s; sending it now", email_id, exc_info=True)
        send_reader_email(email_id)


@functools.cache
def queue_broker() -> Broker:
    """This process's broker: by default django-q2 makes one per task, and with it a new
    Redis connection."""
    return get_broker()


def send_reader_email(email_id: int) -> str | None:
    """The task: send the email if it is due and pending, and claim it first so that
    nobody else does. Its new status, or None when there was nothing to do (sent, being
    sent or failed already, waiting for its retry time, or deleted with its reader)."""
    if not claim(email_id):
        return None
    email = ReaderEmail.objects.select_related("subscriber").filter(pk=email_id).first()
    if email is None:
        return None
    if email.subscriber.status != STILL_WANTED[email.kind]:
        return settle(email, ReaderEmailStatus.SKIPPED)
    if refused := refusal(email.subscriber.email):
        return settle(email, ReaderEmailStatus.SKIPPED, error=refused)
    try:
        MESSAGES[email.kind](email.subscriber).send()
    except Exception as exc:
        return record_failure(email, exc)
    return settle(email, ReaderEmailStatus.SENT, sent_at=timezone.now(), error="")


def refusal(address: str) -> str:
    """Why the address must not be mailed even what its reader asked for, or "".

    An unsubscribe does not count (a goodbye follows one; a new signup lifts it once
    confirmed), but a bounce would only bounce again, and mailing an address that reported
    us as spam, whoever typed it into the form, hurts every reader's delivery."""
    reason = suppression.reason_for(address)
    if reason is None or reason == SuppressionReason.UNSUBSCRIBED:
        return ""
    return f"suppressed: {SuppressionReason(reason).label}"


def send_due_reader_emails() -> int:
    """Every minute: send the reader emails whose retry time came, and any whose task was
    lost; how many were sent."""
    due = ReaderEmail.objects.filter(
        status=ReaderEmailStatus.PENDING, send_after__lte=timezone.now()
    ).order_by("send_after")
    ids = list(due.values_list("pk", flat=True)[:RETRY_BATCH])
    return sum(send_reader_email(email_id) == ReaderEmailStatus.SENT for email_id in ids)


def claim(email_id: int) -> bool:
    claimed = ReaderEmail.objects.filter(
        pk=email_id, status=ReaderEmailStatus.PENDING, send_after__lte=timezone.now()
    ).update(status=ReaderEmailStatus.SENDING, attempts=F("attempts") + 1)
    return claimed == 1


def settle(email: ReaderEmail, status: str, **fields: object) -> str:
    ReaderEmail.objects.filter(pk=email.pk, status=ReaderEmailStatus.SENDING).update(
        status=status, **fields
    )
    return status


def record_failure(email: ReaderEmail, exc: Exception) -> str:
    """Put the email back for a later retry when the failure may pass, else fail it."""
    now = timezone.now()
    # The claim counted this attempt in the database; the loaded row already has it.
    retry_at = now + min(RETRY_BASE * 2 ** (email.attempts - 1), RETRY_MAX)
    error = ledger.describe(exc)
    if ledger.is_transient(exc) and retry_at < email.created_at + GIVE_UP_AFTER:
        logger.warning("Reader email %s: %s (retry at %s)", email.pk, error, retry_at)
        return settle(email, ReaderEmailStatus.PENDING, error=error, send_after=retry_at)
    logger.error("Reader email %s failed for good: %s", email.pk, error, exc_info=exc)
    return settle(email, ReaderEmailStatus.FAILED, error=error)

"""Sending a built digest to its frozen recipients, each exactly once.

The Delivery rows are the ledger. A delivery moves pending → sending (claimed by a
conditional UPDATE just before its message goes out) → sent / failed / skipped, or back to
pending after a transient SMTP error. Claiming one row right before its send, rather than a
whole batch up front, means a worker that dies mid-batch leaves at most one row in
"sending" (visible, never silently resent) instead of a batch of unsent ones.
"""

import logging
import smtplib
from contextlib import suppress
from dataclasses import dataclass

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone
from django_q.tasks import async_task

from newsletter import emails
from newsletter.emails import RenderedEmail
from newsletter.models import (
    Delivery,
    DeliveryStatus,
    Digest,
    DigestStatus,
    Subscriber,
    SubscriberStatus,
    normalize_email,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# A delivery that keeps meeting temporary errors is failed for good after this many tries.
MAX_ATTEMPTS = 5


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    # Transient failures put back to pending for a later call.
    deferred: int = 0

    def add(self, status: str | None) -> None:
        if status == DeliveryStatus.SENT:
            self.sent += 1
        elif status == DeliveryStatus.FAILED:
            self.failed += 1
        elif status == DeliveryStatus.SKIPPED:
            self.skipped += 1
        elif status == DeliveryStatus.PENDING:
            self.deferred += 1


def send_digest(digest_id: int) -> SendResult:
    """Send the digest's pending deliveries; a second call (or a second worker) sends
    nothing that was already sent or claimed. Deliveries deferred by a transient error are
    retried by the next call, not this one, so a flaky server cannot make this loop."""
    result = SendResult()
    digest = Digest.objects.get(pk=digest_id)
    if digest.status == DigestStatus.PAUSED:
        return result
    Digest.objects.filter(pk=digest_id, status=DigestStatus.BUILT).update(
        status=DigestStatus.SENDING
    )
    email: RenderedEmail | None = None
    after = 0
    while (batch := next_batch(digest_id, after)) and not is_paused(digest_id):
        # Rendered once per call, and only when there is someone to send to.
        email = email or emails.render_digest(digest)
        send_batch(batch, email, result)
        after = batch[-1]
    finish_digest(digest_id)
    logger.info("Digest %s: %s", digest, result)
    return result


def next_batch(digest_id: int, after: int) -> list[int]:
    pending = Delivery.objects.pending().filter(digest_id=digest_id, pk__gt=after)
    return list(pending.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])


def is_paused(digest_id: int) -> bool:
    return Digest.objects.filter(pk=digest_id, status=DigestStatus.PAUSED).exists()


def send_batch(delivery_ids: list[int], email: RenderedEmail, result: SendResult) -> None:
    # One connection for the whole batch: opening SMTP (and TLS) per message costs more
    # than the message itself.
    with mail.get_connection() as connection:
        for delivery_id in delivery_ids:
            result.add(send_one(delivery_id, email, connection))


def send_one(delivery_id: int, email: RenderedEmail, connection: BaseEmailBackend) -> str | None:
    """The delivery's new status, or None when another worker claimed it first."""
    if not claim_delivery(delivery_id):
        return None
    delivery = Delivery.objects.select_related("subscriber").get(pk=delivery_id)
    if delivery.subscriber.status != SubscriberStatus.CONFIRMED:
        return record(delivery_id, DeliveryStatus.SKIPPED, error="No longer subscribed.")
    try:
        message = emails.digest_message(email, delivery.subscriber)
        if connection.send_messages([message]) != 1:
            raise RuntimeError("The email backend accepted no message.")
    except Exception as exc:
        return record_failure(delivery, exc, connection)
    return record(
        delivery_id,
        DeliveryStatus.SENT,
        sent_at=timezone.now(),
        message_id=message.extra_headers["Message-ID"],
        attempts=F("attempts") + 1,
        error="",
    )


def claim_delivery(delivery_id: int) -> bool:
    """True when this worker moved the delivery from pending to sending; False when
    someone else got there first or it is no longer pending."""
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, claimed_at=timezone.now()
    )
    return claimed == 1


def record(delivery_id: int, status: str, **fields: object) -> str:
    Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(
        status=status, **fields
    )
    return status


def record_failure(delivery: Delivery, exc: Exception, connection: BaseEmailBackend) -> str:
    code = smtp_code(exc)
    if (code is None and isinstance(exc, OSError)) or code == 421:
        # The connection broke, or the server is closing it: drop it so the next
        # message reconnects instead of failing on a dead socket.
        with suppress(Exception):
            connection.close()
    attempts = delivery.attempts + 1
    retry = is_transient(exc) and attempts < MAX_ATTEMPTS
    status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
    logger.warning("Delivery %s to %s: %s (%s)", delivery.pk, delivery.subscriber, exc, status)
    return record(delivery.pk, status, attempts=attempts, error=describe(exc))


def smtp_code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return max(codes) if codes else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    return None


def is_transient(exc: Exception) -> bool:
    """4xx replies and broken connections may work later; 5xx replies and anything else
    (a bad address, a bug) will not."""
    code = smtp_code(exc)
    if code is not None:
        return 400 <= code < 500
    return isinstance(exc, OSError)


def describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def finish_digest(digest_id: int) -> bool:
    """Mark the digest sent once no delivery is pending or in flight; False if some are."""
    unfinished = Delivery.objects.filter(
        digest_id=digest_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
    )
    if unfinished.exists():
        return False
    Digest.objects.filter(
        pk=digest_id, status__in=[DigestStatus.BUILT, DigestStatus.SENDING]
    ).update(status=DigestStatus.SENT, sent_at=timezone.now())
    return True


# --- Editors' controls (the admin calls these) --------------------------------------


def delivery_counts(digest_id: int) -> dict[str, int]:
    """How many of the digest's deliveries are in each status, every status present."""
    counts = dict.fromkeys(DeliveryStatus.values, 0)
    rows = Delivery.objects.filter(digest_id=digest_id).values_list("status").annotate(Count("pk"))
    counts.update(dict(rows))
    return counts


def pause_digest(digest_id: int) -> bool:
    """Stop sending after the message in flight; False when the digest is already
    finished or paused."""
    paused = Digest.objects.filter(
        pk=digest_id, status__in=[DigestStatus.BUILT, DigestStatus.SENDING]
    ).update(status=DigestStatus.PAUSED)
    return paused == 1


def resume_digest(digest_id: int) -> bool:
    """Unpause and queue the sending again; False when the digest was not paused."""
    resumed = Digest.objects.filter(pk=digest_id, status=DigestStatus.PAUSED).update(
        status=DigestStatus.SENDING
    )
    if resumed:
        enqueue_sending(digest_id)
    return resumed == 1


def retry_failed(digest_id: int) -> int:
    """Put the digest's failed deliveries back in the queue and send them; the count."""
    with transaction.atomic():
        retried = Delivery.objects.filter(digest_id=digest_id, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, attempts=0, error=""
        )
        if retried:
            # A finished digest has work again; a paused one stays paused.
            Digest.objects.filter(pk=digest_id, status=DigestStatus.SENT).update(
                status=DigestStatus.SENDING
            )
            transaction.on_commit(lambda: enqueue_sending(digest_id))
    return retried


def enqueue_sending(digest_id: int) -> None:
    async_task("newsletter.sending.send_digest", digest_id, task_name=f"send digest {digest_id}")


def send_test(digest_id: int, address: str) -> str:
    """Mail the digest as readers get it to `address` (an editor checking it), outside the
    ledger; the Message-ID sent. The unsubscribe link is that of the reader with this
    address, or one that unsubscribes nobody."""
    digest = Digest.objects.get(pk=digest_id)
    email = emails.render_digest(digest)
    reader = Subscriber.objects.filter(email=normalize_email(address)).first()
    # pk 0 belongs to no row, so the test's unsubscribe link cannot remove anyone.
    reader = reader or Subscriber(pk=0, email=normalize_email(address))
    test = RenderedEmail(f"[Test] {email.subject}", email.text, email.html)
    message = emails.digest_message(test, reader)
    message.send()
    return message.extra_headers["Message-ID"]

"""Sending a built digest to its frozen recipients, each exactly once.

The Delivery rows are the ledger. Workers lease due pending rows in batches
(newsletter/leases.py) and send them over a few SMTP connections per batch
(newsletter/transports.py). A row moves pending → sending (leased) → sent just before the
server can accept the message (the final "." of SMTP DATA, newsletter/smtp.py) → lease
dropped once the server answered. Failures settle the row as failed (permanent) or back
to pending with a later send-after time (transient, with backoff; newsletter/ledger.py).
Suppressed addresses, readers who left and readers who paused are settled without any
email. A worker that dies leaves leased rows that the reconciler returns to the queue, or
marks uncertain when the message may have arrived.
"""

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django_q.tasks import async_task

from newsletter import emails, leases, ledger, suppression
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
from newsletter.transports import DigestBodies, open_transport

logger = logging.getLogger(__name__)


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    suppressed: int = 0
    # Transient failures put back to pending for a later call.
    deferred: int = 0

    def add(self, status: str | None) -> None:
        if status == DeliveryStatus.SENT:
            self.sent += 1
        elif status == DeliveryStatus.FAILED:
            self.failed += 1
        elif status == DeliveryStatus.SKIPPED:
            self.skipped += 1
        elif status == DeliveryStatus.SUPPRESSED:
            self.suppressed += 1
        elif status == DeliveryStatus.PENDING:
            self.deferred += 1


def send_digest(digest_id: int, progress: Callable[[int], None] | None = None) -> SendResult:
    """Send the digest's due pending deliveries; a second call (or a second worker) sends
    nothing that was already sent or claimed. Deliveries deferred by a transient error
    wait for their retry time, so a flaky server cannot make this loop. `progress` is
    called with the number of deliveries settled after each batch."""
    result = SendResult()
    leases.reconcile_leases()
    if not start_digest(digest_id):
        return result
    bodies = DigestBodies(Digest.objects.get(pk=digest_id))
    while not is_paused(digest_id):
        batch = leases.claim_batch(digest_id, settings.DAYBRIEF_SEND_BATCH, timezone.now())
        if not batch:
            break
        send_batch(batch, bodies, result)
        if progress:
            progress(len(batch))
    finish_digest(digest_id)
    logger.info("Digest %s: %s", digest_id, result)
    return result


def send_due_digests() -> dict[int, int]:
    """Send what is due of every digest being sent (readers whose morning came, retries
    whose time came, rows a dead worker left); {digest id: messages sent}."""
    leases.reconcile_leases()
    sending = Digest.objects.filter(status=DigestStatus.SENDING).values_list("pk", flat=True)
    return {digest_id: send_digest(digest_id).sent for digest_id in sending}


def start_digest(digest_id: int) -> bool:
    """False when the digest is paused; the first start schedules readers' mornings."""
    if Digest.objects.filter(pk=digest_id, status=DigestStatus.BUILT).update(
        status=DigestStatus.SENDING
    ):
        schedule_mornings(digest_id)
    return not is_paused(digest_id)


def is_paused(digest_id: int) -> bool:
    return Digest.objects.filter(pk=digest_id, status=DigestStatus.PAUSED).exists()


# --- Readers' local mornings ----------------------------------------------------------


def schedule_mornings(digest_id: int, now: dt.datetime | None = None) -> int:
    """Hold each delivery until its reader's chosen local hour on the digest's day (or
    send at once if that hour has passed); one UPDATE per (time zone, hour) in use."""
    now = now or timezone.now()
    digest = Digest.objects.get(pk=digest_id)
    pending = Delivery.objects.filter(
        digest_id=digest_id,
        status=DeliveryStatus.PENDING,
        subscriber__delivery_hour__isnull=False,
    )
    groups = pending.values_list("subscriber__time_zone", "subscriber__delivery_hour").distinct()
    held = 0
    for zone, hour in groups:
        assert hour is not None  # filtered above
        local = local_morning(digest.date, zone, hour)
        if local > now:
            held += pending.filter(
                subscriber__time_zone=zone, subscriber__delivery_hour=hour
            ).update(send_after=local)
    return held


def local_morning(day: dt.date, zone: str, hour: int) -> dt.datetime:
    try:
        tz: dt.tzinfo = zoneinfo.ZoneInfo(zone) if zone else timezone.get_default_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = timezone.get_default_timezone()
    return dt.datetime.combine(day, dt.time(hour=hour), tzinfo=tz)


# --- One batch ------------------------------------------------------------------------


def send_batch(delivery_ids: list[int], bodies: DigestBodies, result: SendResult) -> None:
    # Only what sending reads: full rows cost more to load than the rest of a message.
    fields = ["segment", "attempts", "subscriber", *(f"subscriber__{f}" for f in READER_FIELDS)]
    deliveries = list(
        Delivery.objects.filter(pk__in=delivery_ids)
        .select_related("subscriber")
        .only(*fields)
        .order_by("pk")
    )
    suppressed = suppression.suppressed_among(d.subscriber.email for d in deliveries)
    to_send = []
    for delivery in deliveries:
        reason = reason_not_to_send(delivery, suppressed)
        if reason is None:
            to_send.append(delivery)
        else:
            result.add(ledger.settle(delivery.pk, *reason))
    with ledger.commits_without_disk_wait(), open_transport(bodies) as transport:
        for status in transport.send_all(to_send):
            result.add(status)
    # Anything this worker still holds (a refused handover) goes back to the queue.
    ledger.release(delivery_ids)


# The reader's fields that sending reads (the message itself needs only the address).
READER_FIELDS = ("email", "status", "paused")


def reason_not_to_send(delivery: Delivery, suppressed: set[str]) -> tuple[str, str] | None:
    """(status, why) for a delivery settled without an email; None to send it."""
    reader = delivery.subscriber
    if reader.email in suppressed:
        return DeliveryStatus.SUPPRESSED, "On the suppression list."
    if reader.status != SubscriberStatus.CONFIRMED:
        return DeliveryStatus.SKIPPED, "No longer subscribed."
    if reader.paused:
        return DeliveryStatus.SKIPPED, "The reader paused their digest."
    return None


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
    """Unpause and queue the sending again; False when the digest was not paused.

    A digest paused before it started sending never had its readers' mornings scheduled
    (the first start does that, and resuming skips it), so they are scheduled here; for
    one paused mid-send that is a no-op. In the same transaction, so no worker sees the
    digest sending before the late readers are held."""
    with transaction.atomic():
        resumed = Digest.objects.filter(pk=digest_id, status=DigestStatus.PAUSED).update(
            status=DigestStatus.SENDING
        )
        if resumed:
            schedule_mornings(digest_id)
            transaction.on_commit(lambda: enqueue_sending(digest_id))
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


def resend_uncertain(digest_id: int) -> int:
    """An editor's decision: send the uncertain deliveries again (some of those readers may
    get the digest twice); the count."""
    with transaction.atomic():
        resent = Delivery.objects.filter(
            digest_id=digest_id, status=DeliveryStatus.UNCERTAIN
        ).update(status=DeliveryStatus.PENDING, error="")
        if resent:
            Digest.objects.filter(pk=digest_id, status=DigestStatus.SENT).update(
                status=DigestStatus.SENDING
            )
            transaction.on_commit(lambda: enqueue_sending(digest_id))
    return resent


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
    return str(message.extra_headers["Message-ID"])

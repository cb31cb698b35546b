"""Sending a built digest to its frozen recipients, each exactly once.

The Delivery rows are the ledger. Workers lease due pending rows in batches
(newsletter/leases.py) and send them over one connection per batch. A row moves
pending → sending (leased) → sent just before the server can accept the message (the
final "." of SMTP DATA, newsletter/smtp.py) → lease dropped once the server answered.
Failures settle the row as failed (permanent) or back to pending with a later send-after
time (transient, with backoff). Suppressed addresses, readers who left and readers who
paused are settled without any email. A worker that dies leaves leased rows that the
reconciler returns to the queue, or marks uncertain when the message may have arrived.
"""

import datetime as dt
import logging
import smtplib
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import parseaddr

from django.conf import settings
from django.core import mail
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from newsletter import emails, esp, leases, suppression, throttling
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
from newsletter.prototypes import MessagePrototype, slow_message
from newsletter.smtp import AnswerLost, HandoverRefused, SMTPConnection, uses_smtp

logger = logging.getLogger(__name__)

# A delivery that keeps meeting temporary errors is failed for good after this many tries.
MAX_ATTEMPTS = 5
# Waits before retrying a temporary failure: 1, 2, 4, 8 minutes...
RETRY_BASE = dt.timedelta(minutes=1)
# Tests replace this; production really waits for its throttle slot.
sleep: Callable[[float], None] = time.sleep


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


@dataclass
class DigestBodies:
    """The digest rendered once per body, and serialised once for fast SMTP sending."""

    digest: Digest
    rendered: dict[str, RenderedEmail] = field(default_factory=dict)
    prototypes: dict[str, MessagePrototype | None] = field(default_factory=dict)

    def email(self, delivery: Delivery) -> RenderedEmail:
        key = delivery.segment
        if key not in self.rendered:
            self.rendered[key] = emails.render_segment(self.digest, key)
        return self.rendered[key]

    def prototype(self, delivery: Delivery) -> MessagePrototype | None:
        key = delivery.segment
        if key not in self.prototypes:
            self.prototypes[key] = MessagePrototype.build(self.email(delivery))
        return self.prototypes[key]


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
    upcoming = upcoming_addresses(deliveries, suppressed)
    with commits_without_disk_wait(), open_transport(bodies) as transport:
        for delivery, next_address in zip(deliveries, upcoming, strict=True):
            result.add(send_one(delivery, transport, suppressed, next_address))
    # Anything this worker still holds (a refused handover) goes back to the queue.
    release(delivery_ids)


# The reader's fields that sending reads (the message itself needs only the address).
READER_FIELDS = ("email", "status", "paused")


def send_one(
    delivery: Delivery, transport: "Transport", suppressed: set[str], next_address: str | None
) -> str | None:
    """The delivery's new status, or None when the ledger took the row from us.
    `next_address` is the reader this batch sends to next, if known."""
    reason = reason_not_to_send(delivery, suppressed)
    if reason is not None:
        return settle(delivery.pk, *reason)
    throttling.wait_for_slot(delivery.subscriber.email, sleep)
    try:
        transport.send(delivery, next_address)
    except HandoverRefused:
        return None
    except AnswerLost as exc:
        transport.after_error(exc)
        logger.warning("Delivery %s to %s: the answer was lost", delivery.pk, exc)
        return settle(delivery.pk, DeliveryStatus.UNCERTAIN, exc.why)
    except esp.RecipientRejected as exc:
        return settle(delivery.pk, DeliveryStatus.SUPPRESSED, describe(exc))
    except Exception as exc:
        return record_failure(delivery, exc, transport)
    transport.answered = delivery.pk
    return DeliveryStatus.SENT


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


def upcoming_addresses(deliveries: list[Delivery], suppressed: set[str]) -> list[str | None]:
    """For each delivery, the address of the next one in the batch to be sent, so its
    SMTP envelope can ride with this message's final dot. None throughout when throttled:
    a message then waits for its slot, and an open envelope should not wait with it."""
    if settings.DAYBRIEF_SEND_RATE or settings.DAYBRIEF_DOMAIN_RATES:
        return [None] * len(deliveries)
    upcoming: list[str | None] = []
    following = None
    for delivery in reversed(deliveries):
        upcoming.append(following)
        if reason_not_to_send(delivery, suppressed) is None:
            following = delivery.subscriber.email
    return upcoming[::-1]


def held_by_me(delivery_id: int, *statuses: str) -> QuerySet[Delivery]:
    return Delivery.objects.filter(
        pk=delivery_id, lease_owner=leases.lease_owner(), status__in=statuses
    )


def hand_over(delivery_id: int, message_id: str, answered: int | None = None) -> bool:
    """Record the delivery as sent, just before the message leaves for good; False when
    this worker no longer holds it (its lease ended), and then it must not leave.

    `answered` is the previous delivery, whose server reply came back since: its lease
    ends in the same transaction, so a message costs one commit, not two. This runs once
    per message, so it is two plain SQL statements rather than ORM updates (which cost
    ten times the CPU to build).
    """
    owner = leases.lease_owner()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        if answered is not None:
            cursor.execute(END_LEASE_SQL, [answered, owner])
        cursor.execute(HAND_OVER_SQL, [now, message_id, delivery_id, owner])
        return cursor.rowcount == 1


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


TABLE = Delivery._meta.db_table
END_LEASE_SQL = (
    f"UPDATE {TABLE} SET lease_owner = '', lease_until = NULL WHERE id = %s AND lease_owner = %s"
)
HAND_OVER_SQL = (
    f"UPDATE {TABLE} SET status = '{DeliveryStatus.SENT}', sent_at = %s, message_id = %s, "
    "attempts = attempts + 1, error = '' "
    f"WHERE id = %s AND lease_owner = %s AND status = '{DeliveryStatus.SENDING}'"
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


def record_failure(delivery: Delivery, exc: Exception, transport: "Transport") -> str:
    transport.after_error(exc)
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


# --- Transports: our SMTP client, or any Django email backend ---------------------


class Transport:
    def __init__(self, bodies: DigestBodies) -> None:
        self.bodies = bodies
        # The last delivery the server accepted, whose lease is still to end.
        self.answered: int | None = None

    def hand_over(self, delivery: Delivery, message_id: str) -> bool:
        answered, self.answered = self.answered, None
        return hand_over(delivery.pk, message_id, answered)

    def end_leases(self) -> None:
        if self.answered is not None:
            leases.end_lease(self.answered)
            self.answered = None

    def send(self, delivery: Delivery, next_address: str | None = None) -> None:
        raise NotImplementedError

    def after_error(self, exc: Exception) -> None:
        """Forget a connection the error may have broken."""

    def close(self) -> None:
        """Close the connection, if one is open."""


class SMTPTransport(Transport):
    """One reused SMTP connection; the ledger records each message before its final dot."""

    connection: SMTPConnection | None = None

    def __init__(self, bodies: DigestBodies) -> None:
        super().__init__(bodies)
        self.sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]

    def send(self, delivery: Delivery, next_address: str | None = None) -> None:
        prototype = self.bodies.prototype(delivery)
        addressed = prototype.address(delivery.subscriber) if prototype else None
        if addressed is not None:
            data, message_id = addressed.data, addressed.message_id
        else:
            data, message_id = slow_message(self.bodies.email(delivery), delivery.subscriber)
        if self.connection is None:
            self.connection = SMTPConnection.open()
        self.connection.send(
            self.sender,
            delivery.subscriber.email,
            data,
            lambda: self.hand_over(delivery, message_id),
            next_address,
        )

    def after_error(self, exc: Exception) -> None:
        code = smtp_code(exc)
        if self.connection and (code is None or code == 421):
            # Broken, closing (421) or abandoned mid-DATA: reconnect for the next one.
            self.connection.abort()
            self.connection = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class BackendTransport(Transport):
    """Django's configured backend (outbox, console, locmem, an anymail ESP). It cannot
    tell us when the message becomes final, so the row is recorded just before the hand-over."""

    def __init__(self, bodies: DigestBodies) -> None:
        super().__init__(bodies)
        self.connection = mail.get_connection()
        self.connection.open()

    def send(self, delivery: Delivery, next_address: str | None = None) -> None:
        message = emails.digest_message(self.bodies.email(delivery), delivery.subscriber)
        if not self.hand_over(delivery, message.extra_headers["Message-ID"]):
            raise HandoverRefused(delivery.subscriber.email)
        try:
            sent = self.connection.send_messages([message])
        except Exception as exc:
            esp.check(exc, delivery.subscriber.email)
            raise
        if sent != 1:
            raise RuntimeError("The email backend accepted no message.")
        status = getattr(message, "anymail_status", None)
        if status is not None:
            esp.check_accepted(status, delivery.subscriber.email)
        if status is not None and status.message_id is not None:
            # An ESP's own id is what its webhooks will quote back to us.
            Delivery.objects.filter(pk=delivery.pk).update(message_id=str(status.message_id))

    def after_error(self, exc: Exception) -> None:
        code = smtp_code(exc)
        if (code is None and isinstance(exc, OSError)) or code == 421:
            # Reopened at once: a closed anymail backend would open (and close) a
            # session per message for the rest of the batch.
            with suppress(Exception):
                self.connection.close()
                self.connection.open()

    def close(self) -> None:
        with suppress(Exception):
            self.connection.close()


@contextmanager
def open_transport(bodies: DigestBodies) -> Iterator[Transport]:
    transport: Transport = SMTPTransport(bodies) if uses_smtp() else BackendTransport(bodies)
    try:
        yield transport
    finally:
        transport.end_leases()
        transport.close()


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
    return message.extra_headers["Message-ID"]

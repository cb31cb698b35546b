"""Subscribers receive Digests; each Delivery records one digest sent to one subscriber."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from topics.models import Topic


def normalize_email(address: str) -> str:
    """Addresses compare case-insensitively and without surrounding space."""
    return address.strip().lower()


class SubscriberStatus(models.TextChoices):
    PENDING = "pending", "Waiting for confirmation"
    CONFIRMED = "confirmed", "Confirmed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class SubscriberQuerySet(models.QuerySet["Subscriber"]):
    def confirmed(self) -> "SubscriberQuerySet":
        return self.filter(status=SubscriberStatus.CONFIRMED)


class Subscriber(models.Model):
    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=16, choices=SubscriberStatus.choices, default=SubscriberStatus.PENDING
    )
    # Preferences: an empty list means every category.
    categories = models.JSONField(default=list, blank=True)
    min_importance = models.PositiveSmallIntegerField(default=1)
    max_topics = models.PositiveSmallIntegerField(default=10)
    # The reader's morning: the digest waits until this local hour (None: as soon as built).
    time_zone = models.CharField(max_length=64, blank=True)
    delivery_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["email"]
        indexes = [
            # Building a digest freezes the confirmed subscribers.
            models.Index(fields=["status"], name="subscriber_status_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: object, **kwargs: object) -> None:
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class DigestStatus(models.TextChoices):
    BUILT = "built", "Built, not sent"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    PAUSED = "paused", "Paused"


class Digest(models.Model):
    date = models.DateField(unique=True)
    subject = models.CharField(max_length=300)
    status = models.CharField(
        max_length=16, choices=DigestStatus.choices, default=DigestStatus.BUILT
    )
    topics: "models.ManyToManyField[Topic, DigestTopic]" = models.ManyToManyField(
        Topic, through="DigestTopic", related_name="digests"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"Digest for {self.date:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("newsletter:archive", args=[self.date.isoformat()])

    def ranked_topics(self) -> list[Topic]:
        items = self.items.select_related("topic__lead_article__source").order_by("position")
        return [item.topic for item in items]


def default_send_time() -> dt.time:
    """DAYBRIEF_DIGEST_TIME ("HH:MM"): the daily time until an editor changes it."""
    return dt.time.fromisoformat(settings.DAYBRIEF_DIGEST_TIME)


class DigestScheduleManager(models.Manager["DigestSchedule"]):
    def get_current(self) -> "DigestSchedule":
        """The one row, created from the settings on first use."""
        schedule, _ = self.get_or_create(pk=1)
        return schedule


class DigestSchedule(models.Model):
    """When the daily digest goes out: one row, edited by editors in the admin and mirrored
    into django-q2's schedule (newsletter/schedules.py) so workers follow it at once."""

    send_time = models.TimeField(
        default=default_send_time,
        help_text="The site's local time at which the day's digest is built and starts "
        "sending. Readers who chose a later morning hour still get it at that hour.",
    )
    paused = models.BooleanField(
        default=False,
        help_text="No daily digest is built or sent while paused; digests scheduled "
        "one by one still go out.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = DigestScheduleManager()

    class Meta:
        verbose_name = "digest schedule"
        verbose_name_plural = "digest schedule"

    def __str__(self) -> str:
        state = "paused" if self.paused else f"daily at {self.send_time:%H:%M}"
        return f"Digest schedule ({state})"


class ScheduledSendQuerySet(models.QuerySet["ScheduledSend"]):
    def waiting(self) -> "ScheduledSendQuerySet":
        return self.filter(started_at__isnull=True)


class ScheduledSend(models.Model):
    """An editor's choice: the digest for `date` starts sending at `send_at`, neither at
    the daily time nor at once. It is built at that moment if it is not built yet, so
    curation goes on until then."""

    date = models.DateField(unique=True)
    send_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScheduledSendQuerySet.as_manager()

    class Meta:
        ordering = ["send_at"]
        indexes = [
            # Every minute the sender looks for waiting sends whose time came.
            models.Index(fields=["started_at", "send_at"], name="scheduledsend_due_idx"),
        ]

    def __str__(self) -> str:
        return f"Digest for {self.date:%Y-%m-%d} at {timezone.localtime(self.send_at):%H:%M}"


class DigestTopic(models.Model):
    """A topic's place in a digest, frozen when the digest is built."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="items")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="digest_items")
    position = models.PositiveSmallIntegerField()
    # The topic's size when the digest was built: the next digest compares against it to
    # tell a story that grew (sent again, marked "Updated") from one that did not (left out).
    article_count = models.PositiveIntegerField(default=0)
    source_count = models.PositiveIntegerField(default=0)
    is_update = models.BooleanField(default=False)
    new_article_count = models.PositiveIntegerField(default=0)
    new_source_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["digest", "position"]
        constraints = [
            models.UniqueConstraint(fields=["digest", "topic"], name="digesttopic_unique_topic"),
            models.UniqueConstraint(
                fields=["digest", "position"], name="digesttopic_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.digest} #{self.position}: {self.topic}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (nothing to send or unsubscribed)"
    SUPPRESSED = "suppressed", "Suppressed (unsubscribed, bounced or complained)"
    # The worker died between recording the send and hearing the server's answer: the
    # message may or may not have arrived, so it is shown to editors, never resent blindly.
    UNCERTAIN = "uncertain", "Uncertain (worker died mid-send)"


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def pending(self) -> "DeliveryQuerySet":
        return self.filter(status=DeliveryStatus.PENDING)


class Delivery(models.Model):
    """One digest to one subscriber, recorded before the outside world is called."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Not sent before this time (the reader's local morning); None means at once.
    send_after = models.DateTimeField(null=True, blank=True)
    # "host:pid" of the worker holding the row, until lease_until (see newsletter/leases.py).
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    # The reader's preference segment (newsletter/segments.py): readers in one segment
    # share one rendered body, frozen with the recipients when the digest is built.
    segment = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["digest", "pk"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["digest", "subscriber"], name="delivery_unique_recipient"
            )
        ]
        indexes = [
            # Senders claim the pending deliveries of a digest in primary-key order.
            models.Index(fields=["digest", "status"], name="delivery_queue_idx"),
            # The reconciler looks for held rows whose lease ran out (only held rows have
            # a lease_until). Neither status nor lease_owner is indexed on purpose: on
            # PostgreSQL such an index lured the hand-over's "id = ... AND status = sending
            # AND lease_owner = ..." away from the primary key into a walk over every
            # leased row (and the dead entries each update leaves behind).
            models.Index(
                fields=["lease_until"],
                name="delivery_held_idx",
                condition=models.Q(lease_until__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.digest} → {self.subscriber}"


class ReaderEmailKind(models.TextChoices):
    CONFIRM = "confirm", "Confirmation link"
    GOODBYE = "goodbye", "Goodbye after unsubscribing"


class ReaderEmailStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent (or the worker died sending it)"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped (no longer needed)"
    FAILED = "failed", "Failed"


class ReaderEmail(models.Model):
    """An email a reader's own action asked for (a confirmation link, a goodbye), recorded
    with that action and sent by a task, again later while the mail server fails (see
    newsletter/readermail.py)."""

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="reader_emails"
    )
    kind = models.CharField(max_length=16, choices=ReaderEmailKind.choices)
    status = models.CharField(
        max_length=16, choices=ReaderEmailStatus.choices, default=ReaderEmailStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # Not sent before this time: a retry's backoff.
    send_after = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Every minute the retry looks for pending emails whose time came; only pending
            # rows are indexed, so the index stays as small as the queue.
            models.Index(
                fields=["send_after"],
                name="reademail_due_idx",
                condition=models.Q(status=ReaderEmailStatus.PENDING),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.subscriber}"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    SOFT_BOUNCES = "soft_bounces", "Repeated soft bounces"
    COMPLAINT = "complaint", "Spam complaint"
    ERASED = "erased", "Reader deleted their data"
    MANUAL = "manual", "Added by an editor"


class Suppression(models.Model):
    """An address that must never be mailed a digest again.

    Keyed by a hash of the normalized address, so it survives (and respects) the deletion
    of the reader's data: we can tell the address is suppressed without keeping it.
    """

    address_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.address_hash[:12]}… ({self.get_reason_display()})"


class WebhookEvent(models.Model):
    """A tracking event from the email provider, stored first and processed by a task."""

    esp = models.CharField(max_length=40)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=20)
    # Soft or hard, for bounces; see newsletter/webhooks.py.
    bounce_kind = models.CharField(max_length=10, blank=True)
    address_hash = models.CharField(max_length=64, blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # Providers resend events; each is processed once.
            models.UniqueConstraint(fields=["esp", "event_id"], name="webhookevent_unique_id")
        ]
        indexes = [
            # Counting a reader's soft bounces.
            models.Index(fields=["address_hash", "event_type"], name="webhookevent_address_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.esp} {self.event_type} {self.event_id}"


class ThrottleBucket(models.Model):
    """When the next message may leave under one rate limit, shared by every worker
    (see newsletter/throttling.py)."""

    key = models.CharField(max_length=200, unique=True)
    next_slot_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.key} (next at {self.next_slot_at:%H:%M:%S.%f})"

"""Subscribers receive Digests; each Delivery records one digest sent to one subscriber."""

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
    topics = models.ManyToManyField(Topic, through="DigestTopic", related_name="digests")
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


class DigestTopic(models.Model):
    """A topic's place in a digest, frozen when the digest is built."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="items")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="digest_items")
    position = models.PositiveSmallIntegerField()

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
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
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
        ]

    def __str__(self) -> str:
        return f"{self.digest} → {self.subscriber}"

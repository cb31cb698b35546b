"""Bounces and complaints from the email provider, through django-anymail's tracking webhooks.

Anymail turns each provider's webhook into a `tracking` signal. We store the event first
(one row per provider event id, so a provider's retries change nothing) and answer at once;
a django-q2 task then applies it: hard bounces and complaints suppress the address, soft
bounces do after DAYBRIEF_SOFT_BOUNCE_LIMIT of them, and a digest whose complaint rate passes
0.1% or bounce rate 5% pauses itself and tells the editors.

Anymail's own views (mounted under /anymail/ in newsletter/urls.py) receive the POSTs and
check the ANYMAIL WEBHOOK_SECRET; nothing here parses a provider's format.
"""

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django_q.tasks import async_task

from newsletter import sending, suppression
from newsletter.models import (
    Delivery,
    DeliveryStatus,
    Suppression,
    SuppressionReason,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

HARD, SOFT = "hard", "soft"
COMPLAINED, BOUNCED = "complained", "bounced"
# Anymail event types we act on, and what kind of bounce each is.
KINDS = {"bounced": (BOUNCED, HARD), "deferred": (BOUNCED, SOFT), "complained": (COMPLAINED, "")}
MAX_COMPLAINT_RATE = 0.001
MAX_BOUNCE_RATE = 0.05


def record_event(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """The `anymail.signals.tracking` receiver: store the event, queue its processing.
    Fast and idempotent, because a provider retries when we are slow or fail."""
    if event.event_type not in KINDS:
        return
    event_type, bounce_kind = KINDS[event.event_type]
    if reported_soft(event):
        bounce_kind = SOFT
    event_id = event.event_id or fallback_id(esp_name, event)
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                esp=esp_name,
                event_id=event_id[:200],
                event_type=event_type,
                bounce_kind=bounce_kind,
                address_hash=suppression.address_hash(event.recipient or ""),
                message_id=(event.message_id or "")[:300],
            )
    except IntegrityError:
        return  # Seen before: the provider is retrying.
    transaction.on_commit(lambda: async_task("newsletter.webhooks.process_event", stored.pk))


def reported_soft(event: Any) -> bool:
    # Postmark reports a soft bounce (mailbox full, out of office...) as "bounced", like
    # a hard one; only its own Type field tells them apart.
    raw = event.esp_event
    return isinstance(raw, dict) and raw.get("Type") == "SoftBounce"


def fallback_id(esp_name: str, event: Any) -> str:
    # Some providers send no event id; these fields identify an event well enough.
    parts = [esp_name, event.event_type, event.message_id, event.recipient, event.timestamp]
    return "derived:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def process_event(event_pk: int) -> str:
    """Apply one stored event once; what was done ("" when already processed)."""
    claimed = WebhookEvent.objects.filter(pk=event_pk, processed_at__isnull=True).update(
        processed_at=timezone.now()
    )
    if not claimed:
        return ""
    event = WebhookEvent.objects.get(pk=event_pk)
    delivery = (
        Delivery.objects.filter(message_id=event.message_id).first() if event.message_id else None
    )
    if delivery is not None:
        WebhookEvent.objects.filter(pk=event_pk).update(delivery=delivery)
    outcome = suppress_for(event)
    if delivery is not None:
        check_digest_health(delivery.digest_id)
    return outcome


def suppress_for(event: WebhookEvent) -> str:
    if event.event_type == COMPLAINED:
        reason = SuppressionReason.COMPLAINT
    elif event.bounce_kind == HARD:
        reason = SuppressionReason.HARD_BOUNCE
    else:
        soft = WebhookEvent.objects.filter(
            address_hash=event.address_hash, event_type=BOUNCED, bounce_kind=SOFT
        ).count()
        if soft < settings.DAYBRIEF_SOFT_BOUNCE_LIMIT:
            return f"soft bounce {soft} of {settings.DAYBRIEF_SOFT_BOUNCE_LIMIT}"
        reason = SuppressionReason.SOFT_BOUNCES
    Suppression.objects.get_or_create(address_hash=event.address_hash, defaults={"reason": reason})
    return f"suppressed ({reason})"


def digest_rates(digest_id: int) -> tuple[float, float]:
    """(complaint rate, hard bounce rate) among the digest's messages handed over."""
    handed = Delivery.objects.filter(
        digest_id=digest_id, status__in=[DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN]
    ).count()
    events = WebhookEvent.objects.filter(delivery__digest_id=digest_id)
    counts = events.aggregate(
        complaints=Count("delivery", filter=Q(event_type=COMPLAINED), distinct=True),
        bounces=Count("delivery", filter=Q(event_type=BOUNCED, bounce_kind=HARD), distinct=True),
    )
    if not handed:
        return 0.0, 0.0
    return counts["complaints"] / handed, counts["bounces"] / handed


def check_digest_health(digest_id: int) -> bool:
    """Pause the digest and tell the editors when its rates pass the providers' limits;
    True when this call paused it."""
    complaints, bounces = digest_rates(digest_id)
    if complaints <= MAX_COMPLAINT_RATE and bounces <= MAX_BOUNCE_RATE:
        return False
    if not sending.pause_digest(digest_id):
        return False
    tell_editors(digest_id, complaints, bounces)
    return True


def tell_editors(digest_id: int, complaints: float, bounces: float) -> None:
    message = (
        f"Sending digest {digest_id} paused itself: {complaints:.2%} of its messages drew a "
        f"spam complaint (limit {MAX_COMPLAINT_RATE:.1%}) and {bounces:.2%} bounced "
        f"(limit {MAX_BOUNCE_RATE:.0%}). Check the list and the content, then resume it "
        "from the admin."
    )
    logger.warning(message)
    editors = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    addresses = list(editors.values_list("email", flat=True))
    if addresses:
        send_mail("Daybrief: a digest paused itself", message, None, addresses)

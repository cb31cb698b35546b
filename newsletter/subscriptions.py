"""Joining and leaving: double opt-in, one-click unsubscribe, and bulk imports."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from newsletter import readermail, suppression, tokens
from newsletter.models import (
    ReaderEmailKind,
    Subscriber,
    SubscriberStatus,
    SuppressionReason,
    normalize_email,
)

NAME_MAX_LENGTH = Subscriber._meta.get_field("name").max_length or 200
IMPORT_CHUNK = 500


def request_subscription(email: str, name: str = "") -> Subscriber:
    """Start (or restart) double opt-in for `email` and queue a confirmation link for it
    (newsletter/readermail.py sends it, retrying while the mail server fails).

    An address that is already confirmed gets no email and no change, and callers answer
    the same way whatever happened, so the form never reveals who is subscribed.
    """
    with transaction.atomic():
        subscriber, _created = Subscriber.objects.get_or_create(
            email=normalize_email(email), defaults={"name": name.strip()[:NAME_MAX_LENGTH]}
        )
        if subscriber.status == SubscriberStatus.CONFIRMED:
            return subscriber
        if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
            # Coming back needs a fresh confirmation, like a new address.
            subscriber.status = SubscriberStatus.PENDING
            subscriber.save(update_fields=["status"])
        readermail.queue_reader_email(subscriber.pk, ReaderEmailKind.CONFIRM)
    return subscriber


def subscriber_for_token(purpose: str, token: str) -> Subscriber | None:
    """The subscriber a valid token names; None for forged, altered or expired tokens."""
    subscriber_id = tokens.read_token(purpose, token)
    if subscriber_id is None:
        return None
    return Subscriber.objects.filter(pk=subscriber_id).first()


def confirm_subscription(token: str) -> Subscriber | None:
    """The confirmed subscriber, or None when the token is invalid or expired, or the
    subscriber has since unsubscribed (an old confirm link must not re-subscribe them)."""
    subscriber = subscriber_for_token(tokens.CONFIRM, token)
    if subscriber is None or subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        return None
    confirmed = Subscriber.objects.filter(pk=subscriber.pk, status=SubscriberStatus.PENDING).update(
        status=SubscriberStatus.CONFIRMED, confirmed_at=timezone.now()
    )
    if confirmed:
        # They asked again and proved the address is theirs: their old unsubscribe no longer
        # stands (bounces and complaints do).
        suppression.lift_unsubscribe(subscriber.email)
    subscriber.refresh_from_db()
    return subscriber


def unsubscribe(token: str, notify: bool = False) -> Subscriber | None:
    """The unsubscribed subscriber, or None when the token is invalid.

    Takes effect at once and is idempotent. With `notify`, the first unsubscribe also
    sends a short goodbye email; one-click unsubscribes from mail clients pass False.
    """
    subscriber = subscriber_for_token(tokens.UNSUBSCRIBE, token)
    if subscriber is None:
        return None
    with transaction.atomic():
        changed = (
            Subscriber.objects.filter(pk=subscriber.pk)
            .exclude(status=SubscriberStatus.UNSUBSCRIBED)
            .update(status=SubscriberStatus.UNSUBSCRIBED, unsubscribed_at=timezone.now())
        )
        suppression.suppress(subscriber.email, SuppressionReason.UNSUBSCRIBED)
        if changed and notify:
            readermail.queue_reader_email(subscriber.pk, ReaderEmailKind.GOODBYE)
    subscriber.refresh_from_db()
    return subscriber


# --- Imports ---------------------------------------------------------------------


@dataclass
class ImportRow:
    line: int
    email: str
    name: str = ""


@dataclass
class ImportResult:
    created: int = 0
    confirmed: int = 0
    unchanged: int = 0
    # (line number, reason) for every row that was not imported.
    invalid: list[tuple[int, str]] = field(default_factory=list)


def import_subscribers(rows: Iterable[ImportRow], confirmed: bool) -> ImportResult:
    """Create subscribers from rows, all or nothing, and send no email.

    New addresses become confirmed with `confirmed` (the operator vouches for consent),
    else pending. Existing pending ones are confirmed with `confirmed`; other existing
    subscribers are left alone: an import never re-subscribes someone who unsubscribed.
    """
    result = ImportResult()
    valid = _valid_rows(rows, result)
    with transaction.atomic():
        existing = _existing_statuses(list(valid))
        new = [row for email, row in valid.items() if email not in existing]
        _create(new, confirmed)
        result.created = len(new)
        if confirmed:
            pending = [e for e, status in existing.items() if status == SubscriberStatus.PENDING]
            result.confirmed = _confirm_pending(pending)
        result.unchanged = len(existing) - result.confirmed
    return result


def _chunks(items: list[str]) -> Iterable[list[str]]:
    # Keeps each IN (...) under every database's parameter limit.
    for start in range(0, len(items), IMPORT_CHUNK):
        yield items[start : start + IMPORT_CHUNK]


def _existing_statuses(addresses: list[str]) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for chunk in _chunks(addresses):
        statuses.update(Subscriber.objects.filter(email__in=chunk).values_list("email", "status"))
    return statuses


def _confirm_pending(addresses: list[str]) -> int:
    now = timezone.now()
    return sum(
        Subscriber.objects.filter(email__in=chunk, status=SubscriberStatus.PENDING).update(
            status=SubscriberStatus.CONFIRMED, confirmed_at=now
        )
        for chunk in _chunks(addresses)
    )


def _valid_rows(rows: Iterable[ImportRow], result: ImportResult) -> dict[str, ImportRow]:
    seen: dict[str, ImportRow] = {}
    for row in rows:
        email = normalize_email(row.email)
        try:
            validate_email(email)
        except ValidationError:
            result.invalid.append((row.line, f"not an email address: {row.email!r}"))
            continue
        if email in seen:
            result.invalid.append((row.line, f"duplicate of line {seen[email].line}"))
            continue
        seen[email] = ImportRow(row.line, email, row.name.strip()[:NAME_MAX_LENGTH])
    return seen


def _create(rows: list[ImportRow], confirmed: bool) -> None:
    now = timezone.now()
    status = SubscriberStatus.CONFIRMED if confirmed else SubscriberStatus.PENDING
    Subscriber.objects.bulk_create(
        Subscriber(
            email=row.email,
            name=row.name,
            status=status,
            created_at=now,
            confirmed_at=now if confirmed else None,
        )
        for row in rows
    )

"""A reader's own data: export it, or delete it (GDPR articles 15, 17 and 20), and the
operator's CSV export of the list.

Deleting removes the subscriber and their delivery rows, and suppresses the address (as a
hash, see newsletter/suppression.py), so an old import or a stray resend cannot mail them.
"""

import csv
from collections.abc import Iterable
from typing import IO

from django.db import transaction

from newsletter import suppression
from newsletter.models import Subscriber, SuppressionReason

EXPORT_COLUMNS = ["email", "name", "status", "created_at", "confirmed_at", "unsubscribed_at"]


def export_reader(subscriber: Subscriber) -> dict[str, object]:
    """Everything we keep about one reader, as JSON-ready values."""
    deliveries = subscriber.deliveries.select_related("digest").order_by("digest__date")
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "status": subscriber.status,
        "subscribed_at": subscriber.created_at.isoformat(),
        "confirmed_at": subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else None,
        "preferences": {
            "categories": subscriber.categories,
            "min_importance": subscriber.min_importance,
            "max_topics": subscriber.max_topics,
            "delivery_hour": subscriber.delivery_hour,
            "time_zone": subscriber.time_zone,
            "paused": subscriber.paused,
        },
        "deliveries": [
            {
                "digest": delivery.digest.date.isoformat(),
                "status": delivery.status,
                "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
            }
            for delivery in deliveries
        ],
        # Confirmation links and goodbyes (newsletter/readermail.py).
        "emails": [
            {
                "kind": email.kind,
                "status": email.status,
                "created_at": email.created_at.isoformat(),
                "sent_at": email.sent_at.isoformat() if email.sent_at else None,
            }
            for email in subscriber.reader_emails.order_by("created_at")
        ],
    }


def erase_reader(subscriber_id: int) -> bool:
    """Delete the reader and their deliveries and suppress the address; False if gone."""
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(pk=subscriber_id).first()
        if subscriber is None:
            return False
        suppression.suppress(subscriber.email, SuppressionReason.ERASED)
        subscriber.delete()
    return True


def write_csv(subscribers: Iterable[Subscriber], out: IO[str]) -> int:
    """The list as CSV with the columns import_subscribers reads (and a few more); rows."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    rows = 0
    for subscriber in subscribers:
        writer.writerow(
            [
                subscriber.email,
                subscriber.name,
                subscriber.status,
                *(
                    value.isoformat() if value else ""
                    for value in (
                        subscriber.created_at,
                        subscriber.confirmed_at,
                        subscriber.unsubscribed_at,
                    )
                ),
            ]
        )
        rows += 1
    return rows

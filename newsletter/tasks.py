"""django-q2 tasks for the newsletter: thin wrappers over domain functions.

The ledger (Digest and Delivery rows), not the broker, decides what is sent, so a
task that runs twice sends nothing twice.
"""

import datetime as dt

from django.utils import timezone

from newsletter import digests, sending
from newsletter.metrics import count_sending


def daily_digest(day: str | None = None) -> dict[str, int]:
    """Build the digest for `day` (ISO date, default today) and send it."""
    date = dt.date.fromisoformat(day) if day else timezone.localdate()
    digest = digests.build_digest(date)
    result = count_sending(sending.send_digest(digest.pk))
    return {"digest": digest.pk, "sent": result.sent, "failed": result.failed}


def full_cycle() -> dict[str, int]:
    """What `make run` does once at start: fetch, cluster, build and send today's digest."""
    from topics.tasks import fetch_round

    summary = fetch_round()
    summary.update(daily_digest())
    return summary

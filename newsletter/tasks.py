"""django-q2 tasks for the newsletter: thin wrappers over domain functions.

The ledger (Digest and Delivery rows), not the broker, decides what is sent, so a
task that runs twice sends nothing twice.
"""

import datetime as dt

from django.utils import timezone

from newsletter import digests, scheduling, sending
from newsletter.metrics import count_sending


def daily_digest(day: str | None = None) -> dict[str, int]:
    """Build the digest for `day` (ISO date, default today) and send it, unless an editor
    chose another time for it (then the every-minute sender starts it at that time)."""
    date = dt.date.fromisoformat(day) if day else timezone.localdate()
    if scheduling.is_held(date):
        return {"digest": 0, "sent": 0, "failed": 0, "held": 1}
    digest = digests.build_digest(date)
    result = count_sending(sending.send_digest(digest.pk))
    return {"digest": digest.pk, "sent": result.sent, "failed": result.failed}


def send_due() -> dict[int, int]:
    """Every minute: start the digests scheduled for now, then send what is due of every
    digest being sent; {digest id: messages sent}."""
    scheduling.start_due_sends(timezone.now())
    return sending.send_due_digests()


def full_cycle() -> dict[str, int]:
    """What `make run` does once at start: fetch, cluster, build and send today's digest."""
    from topics.tasks import fetch_round

    summary = fetch_round()
    summary.update(daily_digest())
    return summary

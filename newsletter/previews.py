"""What a digest looks like in one reader's inbox, for editors checking it before it goes out."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from newsletter import digests, emails
from newsletter.emails import RenderedEmail
from newsletter.models import Digest, Subscriber
from newsletter.segments import Segment, segment_for


@dataclass(frozen=True)
class Preview:
    email: RenderedEmail
    recipient: str
    # False while the day's digest is not built yet: the preview shows what building it
    # now would give, and the topics may still change before it is built.
    is_built: bool


def preview_digest(
    digest: Digest, subscriber: Subscriber | None, segment: Segment | None = None
) -> Preview:
    """The digest as `subscriber` would get it (or as a reader with default preferences),
    with the cards of `segment` when one is given."""
    reader = subscriber or Subscriber(pk=0, email="reader@example.com")
    message = emails.digest_message(render_for(digest, reader, segment), reader)
    html = next((body for body, kind in message.alternatives if kind == "text/html"), "")
    email = RenderedEmail(str(message.subject), str(message.body), str(html))
    return Preview(email, reader.email, is_built=digest.pk is not None)


def preview_day(
    day: dt.date, subscriber: Subscriber | None, segment: Segment | None = None
) -> Preview:
    """The day's digest, built or not. An unbuilt one is built inside a transaction that is
    rolled back, so the preview is exactly what building it now gives and freezes nothing."""
    existing = digests.find_digest(day)
    if existing is not None:
        return preview_digest(existing, subscriber, segment)
    with transaction.atomic():
        preview = preview_digest(digests.build_digest(day), subscriber, segment)
        transaction.set_rollback(True)
    return Preview(preview.email, preview.recipient, is_built=False)


def render_for(digest: Digest, reader: Subscriber, segment: Segment | None) -> RenderedEmail:
    """The body the reader's preference segment gets, or the chosen segment's."""
    return emails.render_digest(digest, segment or segment_for(reader))


def segment_from(key: str) -> Segment | None:
    """The segment a key names ("all/1/10", "business+science/3/5"), or None."""
    try:
        return Segment.from_key(key.strip()) if key.strip() else None
    except ValueError:
        return None

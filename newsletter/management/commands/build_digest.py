"""Build a day's digest by hand (the daily schedule does the same)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from newsletter.digests import build_digest
from newsletter.models import DeliveryStatus


def iso_date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


class Command(BaseCommand):
    help = (
        "Build the digest for a day: its ranked topics and one delivery per confirmed "
        "subscriber. Idempotent: an existing digest is shown, not rebuilt."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", type=iso_date, metavar="YYYY-MM-DD", help="The day (default: today)."
        )

    def handle(self, *args: object, **options: object) -> None:
        day = options["date"] or timezone.localdate()
        digest = build_digest(day)  # type: ignore[arg-type]
        topics = digest.items.count()
        deliveries = digest.deliveries.count()
        pending = digest.deliveries.filter(status=DeliveryStatus.PENDING).count()
        self.stdout.write(
            f"{digest}: {topics} topics, {deliveries} deliveries ({pending} pending), "
            f"status {digest.status}.\nSubject: {digest.subject}"
        )

"""Delete old articles, deliveries and events (the daily schedule does the same)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from newsletter.retention import prune_old_data


class Command(BaseCommand):
    help = (
        "Delete articles, deliveries and events older than DAYBRIEF_RETAIN_ARTICLES_DAYS, "
        "DAYBRIEF_RETAIN_DELIVERIES_DAYS and DAYBRIEF_RETAIN_EVENTS_DAYS (0 keeps forever). "
        "What an unsent digest or the digest archive needs is kept."
    )

    def handle(self, *args: object, **options: object) -> None:
        result = prune_old_data(timezone.now())
        self.stdout.write(
            f"Deleted {result.articles} articles, {result.topics} empty topics, "
            f"{result.deliveries} deliveries, {result.events} webhook events and "
            f"{result.tasks} task results."
        )

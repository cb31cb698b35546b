"""Export the subscriber list as CSV (the columns import_subscribers reads, and more)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from newsletter.models import Subscriber, SubscriberStatus
from newsletter.readerdata import write_csv


class Command(BaseCommand):
    help = "Write subscribers as CSV to FILE (default: standard output)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path, help="Where to write the CSV.")
        parser.add_argument(
            "--status", choices=SubscriberStatus.values, help="Only subscribers in this status."
        )

    def handle(self, *args: object, **options: object) -> None:
        subscribers = Subscriber.objects.order_by("pk")
        if options["status"]:
            subscribers = subscribers.filter(status=options["status"])
        path = options["file"]
        if path is None:
            rows = write_csv(subscribers.iterator(), self.stdout)  # type: ignore[arg-type]
        else:
            with Path(str(path)).open("w", newline="", encoding="utf-8") as out:
                rows = write_csv(subscribers.iterator(), out)
        self.stderr.write(f"{rows} subscribers exported.")

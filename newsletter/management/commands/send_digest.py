"""Send (or finish sending) a day's digest by hand."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from newsletter.digests import find_digest
from newsletter.management.commands.build_digest import iso_date
from newsletter.sending import send_digest


class Command(BaseCommand):
    help = (
        "Send the digest of a day to its pending deliveries. Nothing is sent twice: run it "
        "again to retry deliveries that met a temporary error. Build the digest first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", type=iso_date, metavar="YYYY-MM-DD", help="The day (default: today)."
        )

    def handle(self, *args: object, **options: object) -> None:
        day = options["date"] or timezone.localdate()
        digest = find_digest(day)  # type: ignore[arg-type]
        if digest is None:
            raise CommandError(f"There is no digest for {day}: run build_digest --date {day}.")
        result = send_digest(digest.pk)
        self.stdout.write(
            f"{digest}: {result.sent} sent, {result.failed} failed, {result.skipped} skipped, "
            f"{result.deferred} deferred for a retry."
        )

"""Send (or finish sending) a day's digest by hand, with a progress bar on a terminal."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from newsletter.digests import find_digest
from newsletter.management.commands.build_digest import iso_date
from newsletter.models import Delivery, DeliveryStatus
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
        parser.add_argument(
            "--progress",
            action="store_true",
            default=None,
            help="Show a progress bar (default: only when stderr is a terminal).",
        )

    def handle(self, *args: object, **options: Any) -> None:
        day = options["date"] or timezone.localdate()
        digest = find_digest(day)
        if digest is None:
            raise CommandError(f"There is no digest for {day}: run build_digest --date {day}.")
        show = options["progress"] if options["progress"] is not None else sys.stderr.isatty()
        pending = Delivery.objects.filter(digest=digest, status=DeliveryStatus.PENDING).count()
        with tqdm(
            total=pending, unit="msg", desc=str(digest), disable=not show, file=sys.stderr
        ) as bar:

            def advance(sent: int) -> None:
                bar.update(sent)

            result = send_digest(digest.pk, progress=advance)
        self.stdout.write(
            f"{digest}: {result.sent} sent, {result.failed} failed, {result.skipped} skipped, "
            f"{result.suppressed} suppressed, {result.deferred} deferred for a retry."
        )

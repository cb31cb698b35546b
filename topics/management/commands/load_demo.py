from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from topics.demo.loading import load_demo


class Command(BaseCommand):
    help = (
        "Create the demo newsroom's sources (feeds served by this site under /demo/feeds/) "
        "and its confirmed demo subscribers. Safe to run again: nothing is added twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--site-url",
            default=settings.SITE_URL,
            help="Where this site answers; the demo feed URLs point here (default: SITE_URL).",
        )

    def handle(self, *args: Any, site_url: str, **options: Any) -> None:
        result = load_demo(site_url)
        self.stdout.write(
            f"Demo newsroom: {result.sources_created} sources created, "
            f"{result.sources_updated} moved to {site_url.rstrip('/')}, "
            f"{result.subscribers_created} subscribers created."
        )
        if not settings.DAYBRIEF_DEMO:
            self.stderr.write("DAYBRIEF_DEMO is off: this site does not serve the demo feeds.")

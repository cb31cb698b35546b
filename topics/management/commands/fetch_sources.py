"""Fetch feeds now: the due sources (as the scheduler would), all of them, or one."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from topics.fetching import RoundResult, SourceResult, Status, fetch_due_sources, fetch_sources
from topics.models import Source


class Command(BaseCommand):
    help = "Fetch due feed sources and store their new articles."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--all", action="store_true", help="Fetch every active source.")
        which.add_argument("--source", type=int, metavar="ID", help="Fetch this source only.")

    def handle(self, *args: object, **options: Any) -> None:
        if options["source"] is not None:
            if not Source.objects.filter(pk=options["source"]).exists():
                raise CommandError(f"There is no source with id {options['source']}.")
            result = fetch_sources([options["source"]])
        elif options["all"]:
            result = fetch_sources(
                Source.objects.filter(is_active=True).values_list("pk", flat=True)
            )
        else:
            result = fetch_due_sources(timezone.now())
        for line in map(describe, result.results):
            self.stdout.write(line)
        self.stdout.write(totals(result))


def describe(result: SourceResult) -> str:
    if result.status == Status.OK:
        outcome = f"{result.new} new, {result.updated} updated"
    elif result.status == Status.NOT_MODIFIED:
        outcome = "not modified"
    elif result.status == Status.DEFERRED:
        outcome = result.error
    else:
        outcome = f"failed: {result.error}"
    return f"{result.name} (#{result.source_id}): {outcome}"


def totals(result: RoundResult) -> str:
    sources = len(result.results)
    return (
        f"{sources} source{'s' if sources != 1 else ''}: {result.fetched} fetched, "
        f"{result.failed} failed, {result.new_articles} new articles"
    )

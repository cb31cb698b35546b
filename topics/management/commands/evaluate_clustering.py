"""Score the production clustering on a labelled JSONL set, on a throwaway database."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from topics.evaluation import evaluate, read_labelled


class Command(BaseCommand):
    help = (
        "Replay labelled articles day by day through the clustering on a throwaway database "
        "and print BCubed and pairwise scores as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="JSON lines: id, title, text, published, …")
        parser.add_argument(
            "--output", type=Path, help='Write one {"id": …, "topic": …} line per article here.'
        )

    def handle(self, *args: object, **options: object) -> None:
        path = options["file"]
        assert isinstance(path, Path)
        try:
            articles = read_labelled(path)
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        result, topics = evaluate(articles)
        output = options["output"]
        if isinstance(output, Path):
            lines = [json.dumps({"id": a.id, "topic": topics.get(a.id)}) for a in articles]
            output.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        self.stdout.write(json.dumps(result, indent=2))

"""Import subscribers from a CSV file."""

import csv
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from newsletter.subscriptions import ImportRow, import_subscribers


class Command(BaseCommand):
    help = (
        "Import subscribers from a UTF-8 CSV file whose header row has an 'email' column "
        "and, optionally, a 'name' column. Without --confirmed, new addresses are added as "
        "pending and are NOT emailed: they get no digest until they confirm by signing up "
        "on the site, which mails them a confirmation link. With --confirmed, new and "
        "pending addresses become confirmed and get the next digest: use it only for a "
        "list whose consent you can show. Addresses already known keep their status, so an "
        "import never re-subscribes anyone who left. Invalid and duplicate rows are listed "
        "with their line numbers and skipped; every other row is imported, all in one "
        "transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file.")
        parser.add_argument(
            "--confirmed",
            action="store_true",
            help="Mark the imported addresses confirmed (they already opted in elsewhere).",
        )

    def handle(self, *args: object, **options: object) -> None:
        path: Path = options["file"]  # type: ignore[assignment]
        try:
            rows = list(read_rows(path))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        result = import_subscribers(rows, confirmed=bool(options["confirmed"]))
        for line, reason in result.invalid:
            self.stderr.write(f"{path}:{line}: skipped, {reason}")
        self.stdout.write(
            f"{len(rows)} rows: {result.created} new, {result.confirmed} confirmed, "
            f"{result.unchanged} already known and unchanged, {len(result.invalid)} skipped."
        )


def read_rows(path: Path) -> Iterator[ImportRow]:
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
        if "email" not in columns:
            raise CommandError(f"{path} has no 'email' column in its header row.")
        email_column, name_column = columns["email"], columns.get("name")
        for record in reader:
            name = record.get(name_column) if name_column else ""
            # line_num is the file line the row ended on, quoted newlines included.
            yield ImportRow(reader.line_num, record.get(email_column) or "", name or "")

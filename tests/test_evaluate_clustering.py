import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase

from tests.factories import make_article, make_source
from tests.test_clustering import FED, FOOTBALL, LAUNCH
from topics.evaluation import bcubed, pairwise
from topics.models import Article, Source, Topic

START = dt.datetime(2026, 4, 20, 6, 0, tzinfo=dt.UTC)


def labelled_rows(clusters: tuple[str, str, str] = ("fed", "launch", "football")) -> list[dict]:
    rows = []
    stories = zip(("fed", "launch", "football"), clusters, (FED, LAUNCH, FOOTBALL), strict=True)
    for name, cluster, story in stories:
        for n, (title, text) in enumerate(story):
            rows.append(
                {
                    "id": f"{name}-{n}",
                    "title": title,
                    "text": text,
                    # The Fed story crosses midnight: the replay must carry it to the next day.
                    "published": (START + dt.timedelta(hours=8 * n + len(rows))).isoformat(),
                    "source": ["Wire", "Daily", None][n % 3],
                    "url": None,
                    "cluster": cluster,
                }
            )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def evaluate(path: Path, *extra: str) -> dict:
    out = StringIO()
    call_command("evaluate_clustering", str(path), *extra, stdout=out)
    return json.loads(out.getvalue())


class EvaluateClusteringCommandTests(TestCase):
    def test_scores_a_clean_set_as_perfect_and_reports_counts(self) -> None:
        result = evaluate(write_jsonl(self.tmp / "set.jsonl", labelled_rows()))

        self.assertEqual(result["bcubed_precision"], 1.0)
        self.assertEqual(result["bcubed_recall"], 1.0)
        self.assertEqual(result["bcubed_f1"], 1.0)
        self.assertEqual(result["pairwise_f1"], 1.0)
        self.assertEqual(result["articles"], 6)
        self.assertEqual(result["gold_clusters"], 3)
        self.assertEqual(result["predicted_topics"], 3)
        self.assertEqual(result["days"], 2)
        self.assertGreater(result["seconds"], 0)

    def test_output_has_one_topic_line_per_article_in_input_order(self) -> None:
        rows = labelled_rows()
        output = self.tmp / "pred.jsonl"

        evaluate(write_jsonl(self.tmp / "set.jsonl", rows), "--output", str(output))

        lines = [json.loads(line) for line in output.read_text().splitlines()]
        self.assertEqual([line["id"] for line in lines], [row["id"] for row in rows])
        topic = {line["id"]: line["topic"] for line in lines}
        self.assertEqual(len({topic["fed-0"], topic["fed-1"], topic["fed-2"]}), 1)
        self.assertNotEqual(topic["fed-0"], topic["launch-0"])

    def test_gold_labels_do_not_change_the_predicted_topics(self) -> None:
        # Same articles, scrambled gold labels: if `cluster` leaked, the topics would follow it.
        first, second = self.tmp / "a.jsonl", self.tmp / "b.jsonl"
        evaluate(write_jsonl(self.tmp / "1.jsonl", labelled_rows()), "--output", str(first))
        scrambled = labelled_rows(("x", "x", "y"))
        result = evaluate(write_jsonl(self.tmp / "2.jsonl", scrambled), "--output", str(second))

        self.assertEqual(first.read_text(), second.read_text())
        self.assertLess(result["bcubed_recall"], 1.0)  # two stories share a gold label now

    def test_the_configured_database_is_left_untouched(self) -> None:
        source = make_source(name="Real source")
        article = make_article(source, title="A real article", published_at=START)

        evaluate(write_jsonl(self.tmp / "set.jsonl", labelled_rows()))

        self.assertEqual(list(Source.objects.all()), [source])
        self.assertEqual(list(Article.objects.all()), [article])
        self.assertFalse(Topic.objects.exists())
        self.assertEqual(connection.settings_dict["NAME"], self._db_name)

    def test_a_malformed_line_is_a_command_error_naming_the_line(self) -> None:
        path = self.tmp / "bad.jsonl"
        path.write_text(json.dumps(labelled_rows()[0]) + "\n{not json\n")
        with self.assertRaisesMessage(CommandError, "bad.jsonl:2"):
            evaluate(path)

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self._db_name = connection.settings_dict["NAME"]


def test_bcubed_of_a_split_story() -> None:
    # Gold {a,b,c}; predicted {a,b},{c}: precision 1, recall (2/3+2/3+1/3)/3.
    precision, recall, f1 = bcubed(["s", "s", "s"], [1, 1, 2])
    assert precision == 1.0
    assert recall == pytest.approx(5 / 9)
    assert f1 == pytest.approx(2 * (5 / 9) / (1 + 5 / 9))


def test_bcubed_of_two_stories_merged() -> None:
    precision, recall, _ = bcubed(["a", "a", "b"], [1, 1, 1])
    assert precision == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    assert recall == 1.0


def test_pairwise_counts_pairs_put_together() -> None:
    # Gold pairs: (0,1),(0,2),(1,2); predicted pairs: (0,1),(2,3); shared: (0,1).
    precision, recall, f1 = pairwise(["a", "a", "a", "b"], [1, 1, 2, 2])
    assert (precision, recall) == (0.5, pytest.approx(1 / 3))
    assert f1 == pytest.approx(0.4)

import datetime as dt
from io import StringIO

import time_machine
from django.core.management import call_command
from django.test import TestCase

from tests.factories import make_article
from tests.test_clustering import FED, LAUNCH
from topics.models import Article, Topic

NOW = dt.datetime(2026, 4, 21, 12, 0, tzinfo=dt.UTC)


def run() -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("cluster_topics", stdout=out)
    return out.getvalue()


class ClusterTopicsCommandTests(TestCase):
    def test_clusters_enriches_and_ranks_new_articles(self) -> None:
        for n, (title, text) in enumerate(FED + LAUNCH):
            make_article(title=title, text=text, published_at=NOW - dt.timedelta(hours=5 - n))

        output = run()

        self.assertIn("5 articles placed, 2 new topics, 2 topics to enrich", output)
        self.assertIn("Enriched 2 topics", output)
        self.assertIn("Ranked 2 recent topics", output)
        self.assertFalse(Article.objects.filter(topic=None).exists())
        fed = Topic.objects.get(article_count=3)
        self.assertEqual((fed.source_count, fed.needs_enrichment), (3, False))
        self.assertGreater(fed.score, 0)

    def test_a_second_run_with_nothing_new_only_reranks(self) -> None:
        make_article(title=FED[0][0], text=FED[0][1], published_at=NOW - dt.timedelta(hours=1))
        run()
        output = run()
        self.assertIn("0 articles placed, 0 new topics, 0 topics to enrich", output)
        self.assertIn("Ranked 1 recent topics", output)

"""Bring topics up to date now: cluster new articles, enrich what changed, re-rank."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from topics.clustering import cluster_recent
from topics.enrichment import enrich_topics
from topics.ranking import rank_topics


class Command(BaseCommand):
    help = "Cluster recent articles into topics, enrich the topics that changed and re-rank."

    def handle(self, *args: object, **options: object) -> None:
        now = timezone.now()
        clustered = cluster_recent(now)
        self.stdout.write(
            f"Clustering: {clustered.placed} articles placed, {clustered.created} new topics, "
            f"{len(clustered.topic_ids)} topics to enrich"
        )
        self.stdout.write(f"Enriched {enrich_topics(clustered.topic_ids)} topics")
        self.stdout.write(f"Ranked {rank_topics(now)} recent topics")

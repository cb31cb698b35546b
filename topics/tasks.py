"""django-q2 tasks for the topics pipeline: thin wrappers over domain functions.

Every task may run twice (a broker redelivers what it did not see finish), so each
one is safe to repeat: fetching stores an article once, clustering is deterministic.
"""

from django.utils import timezone

from newsletter.metrics import CLUSTERING_SECONDS
from topics import clustering, enrichment, fetching, ranking


def fetch_round() -> dict[str, int]:
    """Fetch every due source, then bring topics up to date."""
    result = fetching.fetch_due_sources(timezone.now())
    summary = {"fetched": result.fetched, "new_articles": result.new_articles}
    summary.update(refresh_topics())
    return summary


def refresh_topics() -> dict[str, int]:
    """Cluster new articles, enrich the topics that changed, and re-rank."""
    now = timezone.now()
    with CLUSTERING_SECONDS.time():
        changed = clustering.cluster_recent(now)
    enriched = enrichment.enrich_topics(changed.topic_ids)
    ranked = ranking.rank_topics(now)
    return {"topics_changed": len(changed.topic_ids), "enriched": enriched, "ranked": ranked}

"""Editors' decisions about topics: merge, split, move, pin, hide, lock.

Each decision runs in one transaction and is recorded in the admin's history (LogEntry).
Articles an editor placed get topic_locked=True, which clustering honours, so a later
clustering run never moves them back; every topic whose membership changed is marked
needs_enrichment and enriched right after the commit, so its card and counts are current.
Enrichment leaves the fields an editor wrote (Topic.edited_fields) alone.

Scores are not recomputed here: ranking every recent topic takes seconds at newsroom scale,
too long for an editor's click. A merged topic takes the best score of its parts and a split
one the score of the topic it left, until the next fetch round ranks them all.
"""

import dataclasses
from collections.abc import Iterable

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from topics import enrichment
from topics.models import Article, Topic
from topics.pagecache import pages_changed

User = AbstractBaseUser | AnonymousUser | None


class CurationError(ValueError):
    """The request makes no sense (e.g. merging a topic into itself); nothing changed."""


@dataclasses.dataclass(frozen=True)
class MergePreview:
    """What merge_topics would do, for the confirmation page."""

    target: Topic
    others: list[Topic]
    moved_articles: int
    pinned: bool


def preview_merge(target_id: int, other_ids: Iterable[int]) -> MergePreview:
    target = Topic.objects.get(pk=target_id)
    others = list(Topic.objects.filter(pk__in=set(other_ids) - {target_id}).order_by("pk"))
    moved = Article.objects.filter(topic__in=others).count()
    pinned = target.is_pinned or any(t.is_pinned for t in others)
    return MergePreview(target, others, moved, pinned)


def merge_topics(target_id: int, other_ids: Iterable[int], user: User) -> Topic:
    """Move every article of the other topics into the target and retire the others.

    The retired topics are emptied and hidden rather than deleted, so digests already sent
    keep their rows; the target stays pinned if any of the merged topics was.
    """
    other_ids = sorted(set(other_ids) - {target_id})
    if not other_ids:
        raise CurationError("Choose at least one other topic to merge.")
    with transaction.atomic():
        target = Topic.objects.select_for_update().get(pk=target_id)
        others = list(Topic.objects.select_for_update().filter(pk__in=other_ids).order_by("pk"))
        Article.objects.filter(topic__in=[target, *others]).update(topic=target, topic_locked=True)
        target.is_pinned = target.is_pinned or any(t.is_pinned for t in others)
        target.score = max(t.score for t in [target, *others])
        target.needs_enrichment = True
        target.save(update_fields=["is_pinned", "score", "needs_enrichment"])
        Topic.objects.filter(pk__in=other_ids).update(
            is_hidden=True, is_pinned=False, is_locked=True, needs_enrichment=True
        )
        names = ", ".join(f"{t.cluster_id} ({t})" for t in others)
        log(user, [target], f"Merged topics {names} into this topic.")
        log(user, others, f"Merged into topic {target.cluster_id} ({target}).")
    refresh([target_id, *other_ids])
    target.refresh_from_db()
    return target


def split_articles(article_ids: Iterable[int], user: User) -> Topic:
    """Put the articles in a new topic of their own, locked there."""
    article_ids = sorted(set(article_ids))
    if not article_ids:
        raise CurationError("Choose at least one article to split out.")
    with transaction.atomic():
        articles = list(Article.objects.select_for_update().filter(pk__in=article_ids))
        if not articles:
            raise CurationError("Choose at least one article to split out.")
        old_ids = _topics_of(articles)
        scores = Topic.objects.filter(pk__in=old_ids).values_list("score", flat=True)
        topic = Topic.objects.create(
            needs_enrichment=True, headline=articles[0].title, score=max(scores, default=0.0)
        )
        Article.objects.filter(pk__in=article_ids).update(topic=topic, topic_locked=True)
        Topic.objects.filter(pk__in=old_ids).update(needs_enrichment=True)
        titles = "; ".join(a.title for a in articles)
        log(user, [topic], f"Split out as a new topic: {titles}.")
        old = list(Topic.objects.filter(pk__in=old_ids))
        log(user, old, f"Split {len(articles)} article(s) out into topic {topic.cluster_id}.")
    refresh([topic.pk, *old_ids])
    topic.refresh_from_db()
    return topic


def move_article(article_id: int, topic_id: int, user: User) -> Article:
    """Move one article to another topic and keep it there."""
    return move_articles([article_id], topic_id, user)[0]


def move_articles(article_ids: Iterable[int], topic_id: int, user: User) -> list[Article]:
    with transaction.atomic():
        target = Topic.objects.select_for_update().get(pk=topic_id)
        articles = list(Article.objects.select_for_update().filter(pk__in=set(article_ids)))
        if not articles:
            raise CurationError("Choose at least one article to move.")
        old_ids = _topics_of(articles) - {topic_id}
        Article.objects.filter(pk__in=[a.pk for a in articles]).update(
            topic=target, topic_locked=True
        )
        Topic.objects.filter(pk__in=[topic_id, *old_ids]).update(needs_enrichment=True)
        for article in articles:
            log(user, [article], f"Moved to topic {target.cluster_id} ({target}).")
        titles = "; ".join(a.title for a in articles)
        log(user, [target], f"Moved in: {titles}.")
        log(user, list(Topic.objects.filter(pk__in=old_ids)), f"Moved out: {titles}.")
    refresh([topic_id, *old_ids])
    return list(Article.objects.filter(pk__in=[a.pk for a in articles]).order_by("pk"))


def _topics_of(articles: list[Article]) -> set[int]:
    return {a.topic_id for a in articles if a.topic_id is not None}


def set_pinned(topic_ids: Iterable[int], pinned: bool, user: User) -> int:
    """Pinned topics lead the day's list and the digest; returns how many changed."""
    verb = "Pinned" if pinned else "Unpinned"
    return _set_flag(topic_ids, "is_pinned", pinned, user, verb)


def set_hidden(topic_ids: Iterable[int], hidden: bool, user: User) -> int:
    """Hidden topics are left out of the site and of digests not yet built."""
    verb = "Hidden" if hidden else "Shown again"
    return _set_flag(topic_ids, "is_hidden", hidden, user, verb)


def set_locked(topic_ids: Iterable[int], locked: bool, user: User) -> int:
    """Clustering neither adds articles to a locked topic nor takes any from it."""
    verb = "Locked" if locked else "Unlocked"
    return _set_flag(topic_ids, "is_locked", locked, user, verb)


def _set_flag(topic_ids: Iterable[int], field: str, value: bool, user: User, verb: str) -> int:
    with transaction.atomic():
        topics = list(
            Topic.objects.select_for_update()
            .filter(pk__in=set(topic_ids))
            .exclude(**{field: value})
            .order_by("pk")
        )
        Topic.objects.filter(pk__in=[t.pk for t in topics]).update(
            **{field: value, "updated_at": timezone.now()}
        )
        log(user, topics, f"{verb}.")
        if topics:
            pages_changed()
    return len(topics)


def log(user: User, objects: list[Topic] | list[Article], message: str) -> None:
    """One admin history entry per object, when a person (not a script) decided."""
    if user is None or not user.is_authenticated or not objects:
        return
    for obj in objects:
        # log_actions on a queryset of one row logs that row with our message.
        LogEntry.objects.log_actions(
            user.pk, type(obj).objects.filter(pk=obj.pk), CHANGE, message, single_object=True
        )


def refresh(topic_ids: Iterable[int]) -> None:
    """Recompute the cards and counts of the topics whose members changed."""
    enrichment.enrich_topics(topic_ids)

"""Public pages: the day's ranked topics (by category or tag too), search, one page per topic."""

import dataclasses
import datetime as dt

from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import urlencode

from topics.models import Article, Topic, TopicCategory, TopicQuerySet, day_bounds

# Tag pages look this far back for the topics that carry the tag.
TAG_DAYS = 30
SEARCH_RESULTS = 50
MAX_QUERY_CHARS = 200


@dataclasses.dataclass(frozen=True)
class Filters:
    """What the reader narrowed the index to: a category slug, a tag, or neither."""

    category: TopicCategory | None = None
    tag: str = ""

    @property
    def query_string(self) -> str:
        pairs = {"category": self.category.slug} if self.category else {}
        pairs |= {"tag": self.tag} if self.tag else {}
        return f"?{urlencode(pairs)}" if pairs else ""


def index(request: HttpRequest, day: dt.date | None = None) -> HttpResponse:
    filters = filters_from(request)
    topics = filtered(Topic.objects.visible(), filters)
    today = timezone.localdate()
    shown = day or latest_day_with_topics(topics, until=today) or today
    context = {
        "day": shown,
        "today": today,
        # The reader asked for today and got an earlier day: the page must say so.
        "is_fallback": day is None and shown != today,
        "topics": with_timeline(topics.for_day(shown).ranked()),
        "filters": filters,
        "category": filters.category,
        "tag": filters.tag,
        "categories": categories_on(shown),
        "previous_day": latest_day_with_topics(topics, until=shown - dt.timedelta(days=1)),
        "next_day": next_day_with_topics(topics, after=shown, until=today),
    }
    return render(request, "topics/index.html", context)


def search(request: HttpRequest) -> HttpResponse:
    query = " ".join(request.GET.get("q", "").split())[:MAX_QUERY_CHARS]
    results = Topic.objects.none()
    if query:
        results = with_timeline(
            matching(Topic.objects.visible(), query).order_by("-latest_at", "pk")
        )[:SEARCH_RESULTS]
    return render(request, "topics/search.html", {"query": query, "topics": results})


def detail(request: HttpRequest, cluster_id: str) -> HttpResponse:
    topic = get_object_or_404(with_timeline(Topic.objects.all()), cluster_id=cluster_id)
    is_staff = request.user.is_staff
    if (topic.is_hidden or topic.article_count == 0) and not is_staff:
        raise Http404("No such topic.")
    context = {
        "topic": topic,
        "lead": topic.lead_article or next(iter(topic.timeline), None),
        "show_debug": is_staff or request.GET.get("debug") == "1",
    }
    return render(request, "topics/detail.html", context)


def filters_from(request: HttpRequest) -> Filters:
    tag = " ".join(request.GET.get("tag", "").split())[:100]
    return Filters(category_from(request), tag)


def category_from(request: HttpRequest) -> TopicCategory | None:
    """The ?category= filter, or None when absent or not an active category."""
    slug = request.GET.get("category", "")
    if not slug:
        return None
    return TopicCategory.objects.filter(slug=slug, is_active=True).first()


def filtered(topics: TopicQuerySet, filters: Filters) -> TopicQuerySet:
    if filters.category:
        topics = topics.filter(category=filters.category.slug)
    if filters.tag:
        topics = topics.filter(pk__in=tagged(filters.tag))
    return topics


def tagged(tag: str) -> list[int]:
    """Recent visible topics carrying `tag` (any case), in one query on any database.

    JSON containment is not portable (SQLite has none), and a month of topics is small.
    """
    since = timezone.now() - dt.timedelta(days=TAG_DAYS)
    wanted = tag.casefold()
    rows = Topic.objects.visible().filter(updated_at__gte=since).values_list("pk", "tags")
    return [pk for pk, tags in rows if any(str(t).casefold() == wanted for t in tags or [])]


def matching(topics: TopicQuerySet, query: str) -> TopicQuerySet:
    """Topics whose card text mentions every word of `query`."""
    for word in query.split()[:8]:
        topics = topics.filter(
            Q(headline__icontains=word)
            | Q(dek__icontains=word)
            | Q(summary__icontains=word)
            | Q(primary_entity__icontains=word)
        )
    return topics


def with_timeline(topics: TopicQuerySet) -> TopicQuerySet:
    """Load each topic's lead and articles (oldest first) in a fixed number of queries."""
    articles = Article.objects.select_related("source").order_by("published_at", "pk")
    return topics.select_related("lead_article__source").prefetch_related(
        Prefetch("articles", queryset=articles, to_attr="timeline")
    )


def latest_day_with_topics(topics: TopicQuerySet, until: dt.date) -> dt.date | None:
    """The most recent day, on or before `until`, on which one of `topics` got an article."""
    _, end = day_bounds(until)
    first_seen = (
        Article.objects.filter(topic__in=topics, first_seen_at__lt=end)
        .order_by("-first_seen_at")
        .values_list("first_seen_at", flat=True)
        .first()
    )
    return timezone.localdate(first_seen) if first_seen else None


def next_day_with_topics(topics: TopicQuerySet, after: dt.date, until: dt.date) -> dt.date | None:
    """The first day after `after`, up to `until`, on which one of `topics` got an article."""
    _, start = day_bounds(after)
    _, end = day_bounds(until)
    first_seen = (
        Article.objects.filter(topic__in=topics, first_seen_at__gte=start, first_seen_at__lt=end)
        .order_by("first_seen_at")
        .values_list("first_seen_at", flat=True)
        .first()
    )
    return timezone.localdate(first_seen) if first_seen else None


def categories_on(day: dt.date) -> list[TopicCategory]:
    """The active categories of `day`'s visible topics, in the editors' order."""
    present = Topic.objects.visible().for_day(day).values("category")
    return list(TopicCategory.objects.filter(is_active=True, slug__in=present))

"""Public pages: the day's ranked topics (by category or tag too), search, one page per topic."""

import dataclasses
import datetime as dt

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import urlencode

from topics.models import Article, Topic, TopicCategory, TopicQuerySet, day_bounds
from topics.pagecache import cached_page

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

    def page_query_string(self, page: int) -> str:
        """The query string of page `page` of the same filtered day."""
        pairs = {"category": self.category.slug} if self.category else {}
        pairs |= {"tag": self.tag} if self.tag else {}
        return f"?{urlencode(pairs | {'page': page})}"


@dataclasses.dataclass(frozen=True)
class TopicPage:
    """One page of a day's ranked topics, and whether another page follows."""

    topics: list[Topic]
    number: int
    has_next: bool
    size: int

    @property
    def start_rank(self) -> int:
        """The rank of the page's first topic, for the list's numbering."""
        return (self.number - 1) * self.size + 1


@cached_page(staff_sees_more=False)
def index(request: HttpRequest, day: dt.date | None = None) -> HttpResponse:
    filters = filters_from(request)
    topics = filtered(Topic.objects.visible(), filters)
    today = timezone.localdate()
    shown = day or latest_day_with_topics(topics, until=today) or today
    page = page_of(topics.for_day(shown).ranked(), page_number_from(request))
    if page.number > 1 and not page.topics:
        raise Http404("No such page.")
    context = {
        "day": shown,
        "today": today,
        # The reader asked for today and got an earlier day: the page must say so.
        "is_fallback": day is None and shown != today,
        "topics": page.topics,
        "page": page,
        "next_page_query": filters.page_query_string(page.number + 1) if page.has_next else "",
        "filters": filters,
        "category": filters.category,
        "tag": filters.tag,
        "categories": categories_on(shown),
        "previous_day": latest_day_with_topics(topics, until=shown - dt.timedelta(days=1)),
        "next_day": next_day_with_topics(topics, after=shown, until=today),
    }
    return render(request, "topics/index.html", context)


@cached_page(staff_sees_more=False)
def search(request: HttpRequest) -> HttpResponse:
    query = " ".join(request.GET.get("q", "").split())[:MAX_QUERY_CHARS]
    results: list[Topic] = []
    if query:
        found = matching(Topic.objects.visible(), query).order_by("-latest_at", "pk")
        results = with_card_sources(list(found.defer("summary")[:SEARCH_RESULTS]))
    return render(request, "topics/search.html", {"query": query, "topics": results})


@cached_page(staff_sees_more=True)
def detail(request: HttpRequest, cluster_id: str) -> HttpResponse:
    topic = get_object_or_404(with_timeline(Topic.objects.all()), cluster_id=cluster_id)
    is_staff = request.user.is_staff
    if (topic.is_hidden or topic.article_count == 0) and not is_staff:
        raise Http404("No such topic.")
    context = {
        "topic": topic,
        # `timeline` comes from with_timeline's prefetch, which the declared queryset type drops.
        "lead": topic.lead_article or next(iter(topic.timeline), None),  # type: ignore[attr-defined]
        "show_debug": is_staff or request.GET.get("debug") == "1",
    }
    return render(request, "topics/detail.html", context)


def page_number_from(request: HttpRequest) -> int:
    """The ?page= number, 1 when absent or not a positive number."""
    raw = request.GET.get("page", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10_000 else 1


def page_of(ranked: TopicQuerySet, number: int) -> TopicPage:
    """Page `number` of `ranked`, DAYBRIEF_INDEX_TOPICS cards a page.

    One row more than the page tells whether another page follows, without a COUNT over the
    day (~500 topics at newsroom scale).
    """
    size = settings.DAYBRIEF_INDEX_TOPICS
    start = (number - 1) * size
    rows = list(ranked.defer("summary")[start : start + size + 1])
    topics = with_card_sources(rows[:size])
    return TopicPage(topics=topics, number=number, has_next=len(rows) > size, size=size)


def with_card_sources(topics: list[Topic]) -> list[Topic]:
    """Give each topic `card_sources`: its sources' names, in the order they first reported.

    That is all a card shows of a topic's articles: one row per article of source id and
    name, no model instances (building ~400 Article and Source objects cost more than the
    rest of the index page).
    """
    if not topics:
        return topics
    rows = (
        Article.objects.filter(topic_id__in=[topic.pk for topic in topics])
        .order_by("published_at", "pk")
        .values_list("topic_id", "source_id", "source__name")
    )
    names: dict[int, dict[int, str]] = {topic.pk: {} for topic in topics}
    for topic_id, source_id, name in rows:
        names[topic_id].setdefault(source_id, name)
    for topic in topics:
        topic.card_sources = list(names[topic.pk].values())
    return topics


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

    JSON containment is not portable (SQLite has none), so Python makes the exact match.
    An ASCII tag first narrows the rows in SQL by substring (a month of a large newsroom is
    15,000 topics, ~150 ms to decode); other tags may be stored escaped (\\u00fc), so no narrowing.
    """
    since = timezone.now() - dt.timedelta(days=TAG_DAYS)
    wanted = tag.casefold()
    rows = Topic.objects.visible().filter(updated_at__gte=since)
    if tag.isascii():
        rows = rows.filter(tags__icontains=tag)
    pairs = rows.values_list("pk", "tags")
    return [pk for pk, tags in pairs if any(str(t).casefold() == wanted for t in tags or [])]


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
    return first_day_seen(articles_of(topics).filter(first_seen_at__lt=end), newest=True)


def next_day_with_topics(topics: TopicQuerySet, after: dt.date, until: dt.date) -> dt.date | None:
    """The first day after `after`, up to `until`, on which one of `topics` got an article."""
    _, start = day_bounds(after)
    _, end = day_bounds(until)
    articles = articles_of(topics).filter(first_seen_at__gte=start, first_seen_at__lt=end)
    return first_day_seen(articles, newest=False)


def articles_of(topics: TopicQuerySet) -> QuerySet[Article]:
    """The articles of `topics`, tested per article rather than collected per topic.

    `topic__in=topics` lets SQLite read every article of every visible topic through the
    topic index and sort them (~0.6 s with 15,000 topics); a correlated EXISTS keeps the
    first_seen_at index in charge, so the day lookups below stop at the first matching
    article: one primary-key probe per article walked (~1-20 ms, benchmarks/web.py).
    """
    return Article.objects.filter(Exists(topics.filter(pk=OuterRef("topic_id"))))


def first_day_seen(articles: QuerySet[Article], newest: bool) -> dt.date | None:
    """The local day of the newest (or oldest) first sighting among `articles`."""
    order = "-first_seen_at" if newest else "first_seen_at"
    first_seen = articles.order_by(order).values_list("first_seen_at", flat=True).first()
    return timezone.localdate(first_seen) if first_seen else None


def categories_on(day: dt.date) -> list[TopicCategory]:
    """The active categories of `day`'s visible topics, in the editors' order."""
    present = Topic.objects.visible().for_day(day).values("category")
    return list(TopicCategory.objects.filter(is_active=True, slug__in=present))

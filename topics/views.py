"""Public pages: the day's ranked topics and one page per topic."""

import datetime as dt

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from topics.models import Article, Category, Topic, TopicQuerySet, day_bounds


def index(request: HttpRequest, day: dt.date | None = None) -> HttpResponse:
    category = category_from(request)
    topics = Topic.objects.visible()
    if category:
        topics = topics.filter(category=category)
    today = timezone.localdate()
    shown = day or latest_day_with_topics(topics, until=today) or today
    context = {
        "day": shown,
        "today": today,
        # The reader asked for today and got an earlier day: the page must say so.
        "is_fallback": day is None and shown != today,
        "topics": with_timeline(topics.for_day(shown).ranked()),
        "category": category,
        "categories": categories_on(shown),
        "previous_day": latest_day_with_topics(topics, until=shown - dt.timedelta(days=1)),
        "next_day": next_day_with_topics(topics, after=shown, until=today),
    }
    return render(request, "topics/index.html", context)


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


def category_from(request: HttpRequest) -> str:
    """The ?category= filter, or "" when absent or not a category we know."""
    value = request.GET.get("category", "")
    return value if value in Category.values else ""


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


def categories_on(day: dt.date) -> list[Category]:
    """The categories of `day`'s visible topics, in the order Category declares them."""
    present = set(
        Topic.objects.visible().for_day(day).order_by().values_list("category", flat=True)
    )
    return [category for category in Category if category.value in present]

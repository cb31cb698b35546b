"""A constructed news day for email tests, the email browser test and benchmarks/render.py:
fictional but realistic stories, each with a lead article and several sources."""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from tests.factories import make_article, make_source
from topics.models import Article, Category, Source, Topic

SOURCE_NAMES = [
    "Northbridge Wire",
    "The Harbour Ledger",
    "Meridian Business Daily",
    "Atlas Science Review",
    "Capital Policy Report",
    "Greenline Climate Desk",
    "The Evening Record",
    "Example Lab blog",
]


@dataclass(frozen=True)
class Story:
    headline: str
    dek: str
    category: str
    entity: str
    tags: tuple[str, ...]
    importance: int
    sources: int


STORIES = [
    Story(
        "Central bank cuts rates by half a point as inflation cools faster than expected",
        "The first cut in two years lowers mortgage costs for about four million households "
        "and signals more easing if prices keep slowing.",
        Category.BUSINESS,
        "Central Bank of Examplia",
        ("Interest rates", "Inflation"),
        5,
        6,
    ),
    Story(
        "Example Lab releases a long-context model at half the price of its predecessor",
        "The lab says documents of a thousand pages now cost less to read than a short "
        "report did last year; rivals are expected to answer within weeks.",
        Category.TECHNOLOGY,
        "Example Lab",
        ("Example Model 2", "AI pricing"),
        4,
        5,
    ),
    Story(
        "Coastal cities agree on a shared flood barrier plan after a decade of talks",
        "Seven cities will split the cost of a 40 km barrier system, with the first "
        "section due before the 2031 storm season.",
        Category.CLIMATE,
        "Harbour Cities Alliance",
        ("Flooding", "Infrastructure"),
        4,
        4,
    ),
    Story(
        "Parliament passes the data portability law with a late amendment on health records",
        "Platforms must let people move their data to a competitor within 30 days; health "
        "records follow a year later.",
        Category.POLICY,
        "Parliament",
        ("Data protection", "Competition"),
        3,
        4,
    ),
    Story(
        "Astronomers find water vapour in the atmosphere of a temperate exoplanet",
        "The planet orbits a quiet red dwarf 40 light years away, and the signal held up "
        "in three independent observations.",
        Category.SCIENCE,
        "Atlas Observatory",
        ("Exoplanets", "Astronomy"),
        3,
        3,
    ),
    Story(
        "Hospital network trials a four-day week for nurses to cut staff turnover",
        "Twelve wards take part for a year; unions say the pilot must not mean longer shifts.",
        Category.HEALTH,
        "Riverside Health",
        ("Nursing", "Working hours"),
        3,
        3,
    ),
    Story(
        "Chipmaker delays its new plant by a year, citing equipment shortages",
        "The delay pushes first production to 2028 and puts 1,200 construction jobs on hold.",
        Category.BUSINESS,
        "Meridian Semiconductors",
        ("Semiconductors", "Manufacturing"),
        3,
        4,
    ),
    Story(
        "Talks on the river treaty resume after a six-month pause",
        "Negotiators from both countries meet next week; water rights during droughts remain "
        "the sticking point.",
        Category.WORLD,
        "River Commission",
        ("Diplomacy", "Water"),
        2,
        2,
    ),
    Story(
        "City orchestra commissions a symphony written with its audience",
        "Listeners voted on themes over six concerts; the premiere is set for the spring season.",
        Category.CULTURE,
        "City Orchestra",
        ("Music", "Premieres"),
        2,
        2,
    ),
    Story(
        "Underdog club reaches the cup final with a stoppage-time winner",
        "The second-tier side beat the league leaders 2-1 and meets the holders next month.",
        Category.SPORTS,
        "Harbour Athletic",
        ("Football", "Cup final"),
        2,
        2,
    ),
    Story(
        "Open-source maintainers publish a funding pledge signed by forty companies",
        "The pledge asks firms to spend a fixed share of their engineering budget on the "
        "projects they depend on.",
        Category.TECHNOLOGY,
        "Open Source Collective",
        ("Open source", "Funding"),
        2,
        3,
    ),
    Story(
        "Regional airline adds night trains to its booking site",
        "Travellers can now book a sleeper and a flight on one ticket on three routes.",
        Category.BUSINESS,
        "Skyline Regional",
        ("Rail", "Travel"),
        1,
        1,
    ),
]


def make_news_day(count: int, start: int = 0, now: dt.datetime | None = None) -> list[Topic]:
    """`count` topics first seen at `now` (default: the current time), most important first,
    from the `start`-th story on; past the hand-written stories they repeat with a number,
    like a very busy day."""
    now = now or timezone.now()
    sources = [make_source(name=name) for name in SOURCE_NAMES]
    numbers = range(start, start + count)
    return [make_story_topic(n, STORIES[n % len(STORIES)], sources, now) for n in numbers]


def make_story_topic(n: int, story: Story, sources: list[Source], now: dt.datetime) -> Topic:
    suffix = f" ({n // len(STORIES) + 1})" if n >= len(STORIES) else ""
    articles = [
        make_article(
            sources[(n + k) % len(sources)],
            title=f"{story.headline}{suffix}" if k == 0 else f"{story.entity}: what changes now",
            published_at=now - dt.timedelta(hours=1 + k),
            first_seen_at=now - dt.timedelta(minutes=30),
        )
        for k in range(story.sources)
    ]
    topic = Topic.objects.create(
        headline=story.headline + suffix,
        dek=story.dek,
        category=story.category,
        primary_entity=story.entity,
        tags=list(story.tags),
        importance=story.importance,
        importance_max=story.importance,
        lead_article=articles[0],
        article_count=len(articles),
        source_count=story.sources,
        earliest_at=articles[-1].published_at,
        latest_at=articles[0].published_at,
        score=1000.0 - n,
    )
    Article.objects.filter(pk__in=[a.pk for a in articles]).update(topic=topic)
    return topic

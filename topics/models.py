"""Sources feed Articles; clustering groups Articles into Topics (one per real-world story)."""

import datetime as dt
import re
import secrets

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Relation(models.TextChoices):
    FIRST_PARTY = "first-party", "First-party (the subject speaking for itself)"
    THIRD_PARTY = "third-party", "Third-party (reporting about others)"


class Kind(models.TextChoices):
    NEWS = "news", "News"
    ANALYSIS = "analysis", "Analysis"
    OPINION = "opinion", "Opinion"
    ANNOUNCEMENT = "announcement", "Announcement"
    RESEARCH = "research", "Research"
    AGGREGATOR = "aggregator", "Aggregator"


class Category(models.TextChoices):
    BUSINESS = "business", "Business"
    TECHNOLOGY = "technology", "Technology"
    POLICY = "policy", "Policy"
    SCIENCE = "science", "Science"
    WORLD = "world", "World"
    HEALTH = "health", "Health"
    CLIMATE = "climate", "Climate"
    CULTURE = "culture", "Culture"
    SPORTS = "sports", "Sports"


class SourceQuerySet(models.QuerySet["Source"]):
    def due(self, now: dt.datetime) -> "SourceQuerySet":
        """Active sources whose next fetch time has come (or was never set)."""
        return self.filter(is_active=True).filter(
            Q(next_fetch_at__isnull=True) | Q(next_fetch_at__lte=now)
        )


class Source(models.Model):
    name = models.CharField(max_length=200)
    feed_url = models.URLField(max_length=2000, unique=True)
    homepage_url = models.URLField(max_length=2000, blank=True)
    relation = models.CharField(
        max_length=16, choices=Relation.choices, default=Relation.THIRD_PARTY
    )
    default_kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NEWS)
    weight = models.FloatField(
        default=1.0, help_text="Authority used by ranking: 1.0 is ordinary, 2.0 counts double."
    )
    category = models.CharField(
        max_length=32, choices=Category.choices, blank=True, help_text="Default category."
    )
    language = models.CharField(max_length=16, default="en")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    # Health, kept by the fetcher.
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_fetch_at = models.DateTimeField(null=True, blank=True)
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    body_hash = models.CharField(max_length=64, blank=True)
    # When validators were last left out, so servers with broken ones are still read.
    last_unconditional_at = models.DateTimeField(null=True, blank=True)
    # How often the feed publishes, from its recent entries; the normal polling interval.
    publish_interval = models.DurationField(null=True, blank=True)
    # The feed's own <ttl>, a floor for the polling interval.
    feed_ttl = models.DurationField(null=True, blank=True)
    # A permanent redirect is adopted only once it has been seen on several fetches.
    redirect_target = models.URLField(max_length=2000, blank=True)
    redirect_count = models.PositiveSmallIntegerField(default=0)
    feed_url_aliases = models.JSONField(
        default=list, blank=True, help_text="Earlier feed URLs, kept after a permanent redirect."
    )
    fetch_full_text = models.BooleanField(
        default=False,
        help_text="When an entry carries only a title or a short stub, fetch the article page "
        "and extract its text.",
    )

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            # The fetch scheduler asks for active sources that are due.
            models.Index(fields=["is_active", "next_fetch_at"], name="source_due_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_first_party(self) -> bool:
        return self.relation == Relation.FIRST_PARTY


class ArticleQuerySet(models.QuerySet["Article"]):
    def first_seen_on(self, day: dt.date) -> "ArticleQuerySet":
        start, end = day_bounds(day)
        return self.filter(first_seen_at__gte=start, first_seen_at__lt=end)

    def in_window(self, now: dt.datetime, hours: int) -> "ArticleQuerySet":
        return self.filter(published_at__gte=now - dt.timedelta(hours=hours))


class Article(models.Model):
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="articles")
    # Identity within the source: the GUID, else the canonical URL, else a content hash.
    identity = models.CharField(max_length=500)
    url = models.URLField(max_length=2000, blank=True)
    title = models.TextField(blank=True)
    author = models.CharField(max_length=300, blank=True)
    summary_html = models.TextField(blank=True, help_text="Sanitized HTML from the feed.")
    content_html = models.TextField(blank=True, help_text="Sanitized HTML from the feed.")
    text = models.TextField(blank=True, help_text="Plain text used for clustering and summaries.")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NEWS)
    published_at = models.DateTimeField(db_index=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    content_hash = models.CharField(max_length=64)
    # Set when content_html and text came from the article's web page (topics/extraction.py):
    # the hash of the feed's own text they replaced, so that an update keeps them only
    # while the feed's text is the same.
    extracted_over = models.CharField(
        max_length=64,
        blank=True,
        help_text="When the content is the page's full text: a hash of the feed text it replaced.",
    )
    importance = models.PositiveSmallIntegerField(default=1)
    topic = models.ForeignKey(
        "Topic", on_delete=models.SET_NULL, null=True, blank=True, related_name="articles"
    )
    # Set when an editor put the article in its topic: clustering never moves it.
    topic_locked = models.BooleanField(default=False)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "identity"], name="article_unique_identity")
        ]
        indexes = [
            # A topic's timeline, oldest first.
            models.Index(fields=["topic", "published_at"], name="article_topic_time_idx"),
            # TopicQuerySet.for_day (the index's cards and categories): the day's topic ids
            # from the index alone, no table row per article (SQLite ~31 -> ~13 ms a page).
            # Leading with first_seen_at, it also serves every lookup by that alone (a day's
            # digest articles, the admin's day filter, the index's previous/next day).
            models.Index(fields=["first_seen_at", "topic"], name="article_seen_topic_idx"),
        ]

    def __str__(self) -> str:
        return self.title or self.url or self.identity

    def get_absolute_url(self) -> str:
        return self.url

    @property
    def is_extracted(self) -> bool:
        """Whether the content is the full text of the article's page, not the feed's."""
        return bool(self.extracted_over)


class ArticleTerms(models.Model):
    """An article's hashed term counts (topics/vectorize.py count_terms), stored so that a
    clustering run counts only the articles that are new or changed (topics/window.py)."""

    article = models.OneToOneField(
        Article, on_delete=models.CASCADE, primary_key=True, related_name="terms"
    )
    # The counts are only good for the code and the text they were made from.
    version = models.CharField(max_length=16)
    digest = models.CharField(max_length=32, help_text="MD5 of the title and text counted.")
    counts = models.BinaryField(help_text="Term buckets (uint32), then their counts (uint16).")

    class Meta:
        verbose_name_plural = "article terms"

    def __str__(self) -> str:
        return f"Terms of article {self.article_id}"


class TopicQuerySet(models.QuerySet["Topic"]):
    def visible(self) -> "TopicQuerySet":
        return self.filter(is_hidden=False, article_count__gt=0)

    def for_day(self, day: dt.date) -> "TopicQuerySet":
        """Topics with at least one article first seen on `day` (in TIME_ZONE).

        An IN (subquery) walks the first_seen_at index once, where EXISTS would probe once
        per topic: 0.6 s -> ~20 ms with 100,000 articles on SQLite (benchmarks/admin_lists.py).
        """
        articles = Article.objects.first_seen_on(day).filter(topic__isnull=False)
        return self.filter(pk__in=articles.values("topic_id"))

    def ranked(self) -> "TopicQuerySet":
        return self.order_by("-is_pinned", "-score", "-importance", "-latest_at", "pk")


class Topic(models.Model):
    # Short stable id shown to editors as "Cluster ID"; never changes as the topic grows.
    cluster_id = models.CharField(max_length=16, unique=True, editable=False)
    headline = models.TextField(blank=True)
    dek = models.TextField(blank=True, help_text="One sentence under the headline.")
    summary = models.TextField(blank=True, help_text="The longer paragraph (“Let's dive in”).")
    # A TopicCategory slug: the list is editable, so no fixed choices here.
    category = models.CharField(max_length=32, blank=True)
    primary_entity = models.CharField(max_length=200, blank=True)
    tags = models.JSONField(default=list, blank=True)
    importance = models.PositiveSmallIntegerField(default=1, help_text="1-5, boost included.")
    importance_max = models.PositiveSmallIntegerField(
        default=1, help_text="The highest importance among the topic's articles."
    )
    importance_boost = models.SmallIntegerField(default=0, help_text="Editors' adjustment.")
    lead_article = models.ForeignKey(
        Article, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    article_count = models.PositiveIntegerField(default=0)
    source_count = models.PositiveIntegerField(default=0)
    earliest_at = models.DateTimeField(null=True, blank=True)
    latest_at = models.DateTimeField(null=True, blank=True)
    score = models.FloatField(default=0.0, help_text="Ranking score; higher ranks first.")
    is_pinned = models.BooleanField(default=False)
    is_hidden = models.BooleanField(default=False)
    # A locked topic keeps its members: clustering neither adds to it nor takes from it.
    is_locked = models.BooleanField(default=False)
    # Not stored: the pages that list topics fill it in (topics/views.py with_card_sources).
    card_sources: list[str]
    # Fields an editor wrote by hand; enrichment leaves them alone.
    edited_fields = models.JSONField(default=list, blank=True)
    # Set by clustering when membership changed; enrichment clears it.
    needs_enrichment = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TopicQuerySet.as_manager()

    class Meta:
        ordering = ["-score"]
        indexes = [
            # The index page and the digest: visible topics by rank.
            models.Index(fields=["is_hidden", "-score"], name="topic_rank_idx"),
            models.Index(fields=["latest_at"], name="topic_latest_idx"),
        ]

    def __str__(self) -> str:
        return self.headline or f"Topic {self.cluster_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.cluster_id:
            self.cluster_id = new_cluster_id()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_absolute_url(self) -> str:
        return reverse("topics:detail", args=[self.cluster_id])

    @property
    def coverage_label(self) -> str:
        if self.source_count <= 1:
            return "single-source"
        return f"{self.source_count} sources"

    @property
    def article_count_label(self) -> str:
        return "1 article" if self.article_count == 1 else f"{self.article_count} articles"

    def is_edited(self, field: str) -> bool:
        return field in self.edited_fields


class TopicCategory(models.Model):
    """One entry of the editable category list, with the words that suggest it."""

    slug = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    keywords = models.TextField(
        blank=True, help_text="Words or phrases that suggest this category, comma-separated."
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "topic categories"

    def __str__(self) -> str:
        return self.name

    @property
    def keyword_list(self) -> list[str]:
        return split_terms(self.keywords)


class Tag(models.Model):
    """A tag editors curate: its display name, the other spellings that mean it, or a block."""

    name = models.CharField(max_length=100, unique=True)
    aliases = models.TextField(
        blank=True, help_text="Other spellings that mean this tag, comma-separated."
    )
    is_blocked = models.BooleanField(
        default=False, help_text="Never show this name (or its aliases) as a tag."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def alias_list(self) -> list[str]:
        return split_terms(self.aliases)


def split_terms(value: str) -> list[str]:
    """Comma- or line-separated terms, stripped, blanks dropped."""
    return [term.strip() for term in re.split(r"[,\n]", value) if term.strip()]


def new_cluster_id() -> str:
    """Ten hex characters, like the reference card's "597fab2eb8"."""
    while True:
        candidate = secrets.token_hex(5)
        if not Topic.objects.filter(cluster_id=candidate).exists():
            return candidate


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The start and end of a calendar day in the site's time zone, as aware datetimes."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end

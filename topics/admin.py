"""The newsroom's admin: sources and their health, articles, and the topics editors curate."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter, helpers
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from topics import curation, fetching, source_admin_views
from topics.admin_filters import (
    CategoryFilter,
    CoverageFilter,
    DayFilter,
    ImportanceFilter,
    StateFilter,
)
from topics.enrichment import clamp
from topics.models import Article, Source, Tag, Topic, TopicCategory

# Topic fields enrichment writes and an editor may overrule; once an editor changes one,
# enrichment leaves it alone (see Topic.edited_fields).
EDITABLE_TOPIC_FIELDS = ("headline", "dek", "summary", "category", "tags", "primary_entity")
# Feeds and articles are on the web: a URL typed without a scheme means https.
URL_FIELDS: dict[type[models.Field[Any, Any]], dict[str, str]] = {
    models.URLField: {"assume_scheme": "https"}
}
# The move page offers today's top topics as targets; any other is typed by cluster id.
MOVE_CANDIDATES = 30


FETCHER_FIELDS = (
    "last_fetched_at",
    "last_status",
    "consecutive_errors",
    "last_error",
    "etag",
    "last_modified",
    "body_hash",
    "publish_interval",
    "feed_url_aliases",
    "redirect_target",
    "redirect_count",
    "created_at",
)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin[Source]):
    formfield_overrides = URL_FIELDS
    list_display = (
        "name",
        "relation",
        "default_kind",
        "weight",
        "is_active",
        "health",
        "last_fetched_at",
        "next_fetch_at",
    )
    list_filter = ("is_active", "relation", "default_kind", "category")
    search_fields = ("name", "feed_url", "homepage_url")
    # What the fetcher keeps: shown to editors, never typed by them (next_fetch_at stays
    # editable so an editor can ask for an early fetch).
    readonly_fields = FETCHER_FIELDS
    fieldsets = (
        (None, {"fields": ("name", "feed_url", "homepage_url", "is_active", "fetch_full_text")}),
        ("Editorial", {"fields": ("relation", "default_kind", "category", "weight", "language")}),
        ("Health (kept by the fetcher)", {"fields": ("next_fetch_at", *FETCHER_FIELDS)}),
    )
    actions = ("fetch_now",)

    def get_urls(self) -> source_admin_views.URLList:
        return [*source_admin_views.source_urls(self), *super().get_urls()]

    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "GET":
            source_admin_views.add_by_site_hint(self, request)
        return super().add_view(request, *args, **kwargs)

    @admin.display(description="Health")
    def health(self, source: Source) -> str:
        return source_admin_views.health_badge(source)

    @admin.action(description="Fetch now")
    def fetch_now(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        results = [fetching.fetch_source(pk) for pk in queryset.values_list("pk", flat=True)]
        failed = [result for result in results if result.failed]
        new = sum(result.new for result in results)
        self.message_user(
            request,
            f"Fetched {len(results) - len(failed)} of {len(results)} sources: {new} new "
            "articles. Topics catch up on the next fetch round.",
            messages.SUCCESS if not failed else messages.WARNING,
        )
        for result in failed:
            self.message_user(request, f"{result.name}: {result.error}", messages.ERROR)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin[Article]):
    formfield_overrides = URL_FIELDS
    list_display = (
        "title",
        "source",
        "topic_link",
        "kind",
        "importance",
        "topic_locked",
        "published_at",
        "first_seen_at",
    )
    list_filter = (("first_seen_at", DateFieldListFilter), "source", "kind", "topic_locked")
    search_fields = ("title", "source__name")
    list_select_related = ("source", "topic")
    # A count(*) over 100,000 articles on every page tells the editor nothing.
    show_full_result_count = False
    # Rendering a row costs far more than fetching it (benchmarks/admin_lists.py).
    list_per_page = 50
    raw_id_fields = ("topic",)
    readonly_fields = (
        "identity",
        "content_hash",
        "extracted_over",
        "first_seen_at",
        "updated_at",
    )
    actions = ("split_out", "move_to_topic")

    @admin.display(description="Topic", ordering="topic__headline")
    def topic_link(self, article: Article) -> str:
        if article.topic is None:
            return "—"
        url = reverse("admin:topics_topic_change", args=[article.topic.pk])
        return format_html('<a href="{}">{}</a>', url, article.topic)

    def save_model(
        self, request: HttpRequest, obj: Article, form: ModelForm[Article], change: bool
    ) -> None:
        if "topic" in form.changed_data:
            # An editor's placement wins: clustering never moves the article again.
            obj.topic_locked = True
            touched = {obj.topic_id, form.initial.get("topic")} - {None}
            Topic.objects.filter(pk__in=touched).update(needs_enrichment=True)
        super().save_model(request, obj, form, change)

    @admin.action(
        description="Split selected articles out into a new topic…", permissions=["change"]
    )
    def split_out(self, request: HttpRequest, queryset: QuerySet[Article]) -> HttpResponse | None:
        articles = list(queryset.select_related("topic", "source").order_by("published_at"))
        if is_confirmed(request):
            topic = curation.split_articles([a.pk for a in articles], request.user)
            self.message_user(
                request, f"Split {len(articles)} article(s) out into “{topic}”.", messages.SUCCESS
            )
            return redirect("admin:topics_topic_change", topic.pk)
        topics = {a.topic for a in articles if a.topic}
        return confirmation(
            request, self, "split_confirmation.html", "Split articles out", queryset,
            articles=articles, topics=sorted(topics, key=lambda t: t.pk),
        )  # fmt: skip

    @admin.action(description="Move selected articles to another topic…", permissions=["change"])
    def move_to_topic(
        self, request: HttpRequest, queryset: QuerySet[Article]
    ) -> HttpResponse | None:
        articles = list(queryset.select_related("topic", "source").order_by("published_at"))
        target, error = find_topic(request.POST.get("target", "")), ""
        if is_confirmed(request):
            if target is not None:
                curation.move_articles([a.pk for a in articles], target.pk, request.user)
                self.message_user(
                    request, f"Moved {len(articles)} article(s) to “{target}”.", messages.SUCCESS
                )
                return None
            error = "Choose a topic, or type its cluster id."
        candidates = Topic.objects.visible().for_day(timezone.localdate()).ranked()
        return confirmation(
            request, self, "move_confirmation.html", "Move articles", queryset,
            articles=articles, candidates=candidates[:MOVE_CANDIDATES], error=error,
            target=request.POST.get("target", ""),
        )  # fmt: skip


def is_confirmed(request: HttpRequest) -> bool:
    """The second POST of an action, sent from its confirmation page."""
    return request.POST.get("confirm") == "yes"


def find_topic(value: str) -> Topic | None:
    """A topic by its cluster id (as editors see it) or its primary key."""
    value = value.strip()
    if not value:
        return None
    found = Topic.objects.filter(cluster_id=value).first()
    if found is None and value.isdigit():
        found = Topic.objects.filter(pk=int(value)).first()
    return found


def confirmation(
    request: HttpRequest,
    model_admin: admin.ModelAdmin[Any],
    template: str,
    title: str,
    queryset: QuerySet[Any],
    **context: object,
) -> TemplateResponse:
    """The page between an action's first POST and its confirmed second one."""
    opts = model_admin.model._meta
    context.update(
        model_admin.admin_site.each_context(request),
        title=title,
        opts=opts,
        action=request.POST.get("action", ""),
        selected=queryset.values_list("pk", flat=True),
        action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
    )
    return TemplateResponse(
        request, f"admin/{opts.app_label}/{opts.model_name}/{template}", context
    )


class TopicArticleInline(admin.TabularInline[Article, Topic]):
    model = Article
    fk_name = "topic"
    fields = ("title", "source", "kind", "importance", "published_at", "topic_locked")
    readonly_fields = fields
    ordering = ("published_at",)
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        return super().get_queryset(request).select_related("source")


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin[Topic]):
    list_display = (
        "headline_or_id",
        "category",
        "importance",
        "coverage",
        "state",
        "score",
        "latest_at",
    )
    list_display_links = ("headline_or_id",)
    list_filter = (DayFilter, CategoryFilter, ImportanceFilter, CoverageFilter, StateFilter)
    search_fields = ("headline", "dek", "primary_entity", "=cluster_id")
    # The same order as the site and the digest: pinned first, then by score.
    ordering = ("-is_pinned", "-score", "-importance", "-latest_at", "pk")
    show_full_result_count = False
    list_per_page = 50
    raw_id_fields = ("lead_article",)
    readonly_fields = (
        "card_preview",
        "curation_links",
        "cluster_id",
        "importance",
        "importance_max",
        "article_count",
        "source_count",
        "earliest_at",
        "latest_at",
        "score",
        "needs_enrichment",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        ("Card preview", {"fields": ("card_preview", "curation_links")}),
        (None, {"fields": EDITABLE_TOPIC_FIELDS}),
        (
            "Editorial controls",
            {"fields": ("is_pinned", "is_hidden", "is_locked", "importance_boost", "lead_article")},
        ),
        (
            "Debug",
            {
                "classes": ("collapse",),
                "fields": (
                    "cluster_id",
                    "importance",
                    "importance_max",
                    "article_count",
                    "source_count",
                    "earliest_at",
                    "latest_at",
                    "score",
                    "edited_fields",
                    "needs_enrichment",
                    "created_at",
                    "updated_at",
                ),
            },
        ),
    )
    inlines = (TopicArticleInline,)
    actions = ("merge_selected", "pin", "unpin", "hide", "unhide", "lock", "unlock")

    @admin.display(description="Headline", ordering="headline")
    def headline_or_id(self, topic: Topic) -> str:
        return str(topic)

    @admin.display(description="Coverage", ordering="source_count")
    def coverage(self, topic: Topic) -> str:
        return f"{topic.coverage_label} · {topic.article_count_label}"

    @admin.display(description="State")
    def state(self, topic: Topic) -> str:
        flags = [("pinned", topic.is_pinned), ("hidden", topic.is_hidden)]
        flags += [("locked", topic.is_locked), ("edited", bool(topic.edited_fields))]
        return " · ".join(name for name, on in flags if on) or "—"

    @admin.display(description="Card")
    def card_preview(self, topic: Topic) -> str:
        if topic.pk is None:
            return "—"
        return render_to_string("admin/topics/topic/card_preview.html", {"topic": topic})

    @admin.display(description="Articles")
    def curation_links(self, topic: Topic) -> str:
        if topic.pk is None:
            return "—"
        url = reverse("admin:topics_article_changelist") + f"?topic__id__exact={topic.pk}"
        return format_html(
            '<a href="{}">Split or move this topic\'s articles</a> (select them, then choose '
            "an action)",
            url,
        )

    def save_model(
        self, request: HttpRequest, obj: Topic, form: ModelForm[Topic], change: bool
    ) -> None:
        obj.edited_fields = mark_edited(obj.edited_fields, form.changed_data)
        if "importance_boost" in form.changed_data:
            # Shown at once; enrichment computes the same from the articles later.
            obj.importance = clamp(obj.importance_max + obj.importance_boost)
        super().save_model(request, obj, form, change)

    @admin.action(description="Merge selected topics…", permissions=["change"])
    def merge_selected(
        self, request: HttpRequest, queryset: QuerySet[Topic]
    ) -> HttpResponse | None:
        topics = list(queryset.order_by(*self.ordering))
        if len(topics) < 2:
            self.message_user(request, "Select at least two topics to merge.", messages.WARNING)
            return None
        ids = [t.pk for t in topics]
        target_id = int_or(request.POST.get("target"), ids[0])
        if target_id not in ids:
            target_id = ids[0]
        if is_confirmed(request):
            target = curation.merge_topics(target_id, ids, request.user)
            self.message_user(
                request, f"Merged {len(ids)} topics into “{target}”.", messages.SUCCESS
            )
            return redirect("admin:topics_topic_change", target.pk)
        return confirmation(
            request, self, "merge_confirmation.html", "Merge topics", queryset,
            topics=topics, preview=curation.preview_merge(target_id, ids),
        )  # fmt: skip

    @admin.action(description="Pin selected topics", permissions=["change"])
    def pin(self, request: HttpRequest, queryset: QuerySet[Topic]) -> None:
        self._flag(
            request, curation.set_pinned(queryset_ids(queryset), True, request.user), "pinned"
        )

    @admin.action(description="Unpin selected topics", permissions=["change"])
    def unpin(self, request: HttpRequest, queryset: QuerySet[Topic]) -> None:
        self._flag(
            request, curation.set_pinned(queryset_ids(queryset), False, request.user), "unpinned"
        )

    @admin.action(description="Hide selected topics", permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet[Topic]) -> None:
        self._flag(
            request, curation.set_hidden(queryset_ids(queryset), True, request.user), "hidden"
        )

    @admin.action(description="Show selected topics again", permissions=["change"])
    def unhide(self, request: HttpRequest, queryset: QuerySet[Topic]) -> None:
        self._flag(
            request, curation.set_hidden(queryset_ids(queryset), False, request.user), "shown again"
        )

    @admin.action(
        description="Lock selected topics (clustering leaves them alone)", permissions=["change"]
    )
    def lock(self, request: HttpRequest, queryset: QuerySet[Topic]) -> None:
        self._flag(
            request, curation.set_locked(queryset_ids(queryset), True, request.user), "locked"
        )

    @admin.action(description="Unlock selected topics", permissions=["change"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[Topic]) -> None:
        self._flag(
            request, curation.set_locked(queryset_ids(queryset), False, request.user), "unlocked"
        )

    def _flag(self, request: HttpRequest, count: int, verb: str) -> None:
        self.message_user(request, f"{count} topic(s) {verb}.", messages.SUCCESS)


def queryset_ids(queryset: QuerySet[Any]) -> list[int]:
    return list(queryset.values_list("pk", flat=True))


def int_or(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


def mark_edited(edited_fields: list[str], changed: list[str]) -> list[str]:
    """`edited_fields` plus the editable fields an editor just changed."""
    added = [f for f in EDITABLE_TOPIC_FIELDS if f in changed and f not in edited_fields]
    return [*edited_fields, *added]


# --- The editable category list and tag vocabulary (topic cards) -------------------------


@admin.register(TopicCategory)
class TopicCategoryAdmin(admin.ModelAdmin[TopicCategory]):
    list_display = ("name", "slug", "position", "is_active", "keywords")
    list_editable = ("position", "is_active")
    search_fields = ("name", "slug", "keywords")
    prepopulated_fields = {"slug": ("name",)}
    ordering = ("position", "slug")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin[Tag]):
    list_display = ("name", "aliases", "is_blocked")
    list_filter = ("is_blocked",)
    search_fields = ("name", "aliases")

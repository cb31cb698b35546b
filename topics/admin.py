"""The newsroom's admin: sources and their health, articles, and the topics editors curate."""

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from topics import fetching
from topics.models import Article, Source, Topic

# Topic fields enrichment writes and an editor may overrule; once an editor changes one,
# enrichment leaves it alone (see Topic.edited_fields).
EDITABLE_TOPIC_FIELDS = ("headline", "dek", "summary", "category", "tags", "primary_entity")
# Feeds and articles are on the web: a URL typed without a scheme means https.
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = (
        "name",
        "relation",
        "default_kind",
        "weight",
        "is_active",
        "last_status",
        "consecutive_errors",
        "next_fetch_at",
    )
    list_filter = ("is_active", "relation", "default_kind", "category")
    search_fields = ("name", "feed_url", "homepage_url")
    readonly_fields = (
        "created_at",
        "last_fetched_at",
        "last_status",
        "consecutive_errors",
        "last_error",
        "etag",
        "last_modified",
        "body_hash",
    )
    fieldsets = (
        (None, {"fields": ("name", "feed_url", "homepage_url", "is_active")}),
        ("Editorial", {"fields": ("relation", "default_kind", "category", "weight", "language")}),
        (
            "Health (kept by the fetcher)",
            {
                "fields": (
                    "next_fetch_at",
                    "last_fetched_at",
                    "last_status",
                    "consecutive_errors",
                    "last_error",
                    "etag",
                    "last_modified",
                    "body_hash",
                    "created_at",
                )
            },
        ),
    )
    actions = ("fetch_now",)

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
class ArticleAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = (
        "title",
        "source",
        "topic_link",
        "kind",
        "importance",
        "published_at",
        "first_seen_at",
    )
    list_filter = ("source", "kind")
    search_fields = ("title", "source__name")
    list_select_related = ("source", "topic")
    raw_id_fields = ("topic",)
    date_hierarchy = "published_at"
    readonly_fields = ("identity", "content_hash", "first_seen_at", "updated_at")

    @admin.display(description="Topic", ordering="topic__headline")
    def topic_link(self, article: Article) -> str:
        if article.topic is None:
            return "—"
        url = reverse("admin:topics_topic_change", args=[article.topic.pk])
        return format_html('<a href="{}">{}</a>', url, article.topic)

    def save_model(self, request: HttpRequest, obj: Article, form: ModelForm, change: bool) -> None:
        if "topic" in form.changed_data:
            # An editor's placement wins: clustering never moves the article again.
            obj.topic_locked = True
            touched = {obj.topic_id, form.initial.get("topic")} - {None}
            Topic.objects.filter(pk__in=touched).update(needs_enrichment=True)
        super().save_model(request, obj, form, change)


class TopicArticleInline(admin.TabularInline):
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
class TopicAdmin(admin.ModelAdmin):
    list_display = (
        "headline_or_id",
        "category",
        "importance",
        "coverage",
        "article_count",
        "score",
        "is_pinned",
        "is_hidden",
        "is_locked",
        "latest_at",
    )
    list_display_links = ("headline_or_id",)
    list_editable = ("is_pinned", "is_hidden")
    list_filter = ("category", "importance", "is_pinned", "is_hidden", "is_locked")
    search_fields = ("headline", "dek", "primary_entity", "cluster_id")
    raw_id_fields = ("lead_article",)
    readonly_fields = (
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
        (None, {"fields": EDITABLE_TOPIC_FIELDS}),
        (
            "Editorial controls",
            {"fields": ("is_pinned", "is_hidden", "is_locked", "importance_boost", "lead_article")},
        ),
        (
            "Debug",
            {
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
                )
            },
        ),
    )
    inlines = (TopicArticleInline,)

    @admin.display(description="Headline", ordering="headline")
    def headline_or_id(self, topic: Topic) -> str:
        return str(topic)

    @admin.display(description="Coverage", ordering="source_count")
    def coverage(self, topic: Topic) -> str:
        return f"{topic.coverage_label} · {topic.article_count_label}"

    def save_model(self, request: HttpRequest, obj: Topic, form: ModelForm, change: bool) -> None:
        obj.edited_fields = mark_edited(obj.edited_fields, form.changed_data)
        super().save_model(request, obj, form, change)


def mark_edited(edited_fields: list[str], changed: list[str]) -> list[str]:
    """`edited_fields` plus the editable fields an editor just changed."""
    added = [f for f in EDITABLE_TOPIC_FIELDS if f in changed and f not in edited_fields]
    return [*edited_fields, *added]

"""The newsletter's admin: readers, digests with their delivery counts, and the delivery log."""

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from newsletter.models import Delivery, DeliveryStatus, Digest, DigestTopic, Subscriber

admin.site.site_header = "Daybrief newsroom"
admin.site.site_title = "Daybrief newsroom"
admin.site.index_title = "Sources, topics, readers and digests"


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "status", "created_at", "confirmed_at")
    list_filter = ("status",)
    search_fields = ("email", "name")
    readonly_fields = ("created_at", "confirmed_at", "unsubscribed_at")


class DigestTopicInline(admin.TabularInline):
    model = DigestTopic
    fields = ("position", "topic")
    raw_id_fields = ("topic",)
    ordering = ("position",)
    extra = 0


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ("date", "subject", "status", "delivery_counts")
    list_filter = ("status",)
    search_fields = ("subject",)
    date_hierarchy = "date"
    readonly_fields = ("created_at", "sent_at")
    inlines = (DigestTopicInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Digest]:
        # One grouped query with a filtered count per status; a digest has at most one
        # delivery per subscriber, so the join stays the size of the mailing list.
        counts = {
            _count_name(status): Count("deliveries", filter=Q(deliveries__status=status))
            for status in DeliveryStatus.values
        }
        return super().get_queryset(request).annotate(**counts)

    @admin.display(description="Deliveries")
    def delivery_counts(self, digest: Digest) -> str:
        counts = [(s, getattr(digest, _count_name(s))) for s in DeliveryStatus.values]
        return " · ".join(f"{count} {status}" for status, count in counts if count) or "none"


def _count_name(status: str) -> str:
    return f"{status}_deliveries"


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """A log: what was sent to whom is recorded by the sender, never edited by hand."""

    list_display = ("digest", "subscriber", "status", "attempts", "sent_at", "short_error")
    list_filter = ("status", "digest")
    search_fields = ("subscriber__email", "message_id")
    list_select_related = ("digest", "subscriber")

    @admin.display(description="Error")
    def short_error(self, delivery: Delivery) -> str:
        return delivery.error[:80]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

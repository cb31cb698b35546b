"""RSS of the topics the index shows: the latest day's, ranked, optionally one category."""

import datetime as dt

from django.contrib.syndication.views import Feed
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from topics.models import Topic
from topics.views import category_from, latest_day_with_topics


class RankedTopicsFeed(Feed):
    title = "Daybrief: the day's topics"
    description = "Today's news, clustered into topics and ranked by importance."

    def get_object(self, request: HttpRequest) -> str:  # type: ignore[override]
        return category_from(request)

    def link(self, category: str) -> str:
        url = reverse("topics:index")
        return f"{url}?category={category}" if category else url

    def items(self, category: str) -> list[Topic]:
        topics = Topic.objects.visible()
        if category:
            topics = topics.filter(category=category)
        day = latest_day_with_topics(topics, until=timezone.localdate())
        if day is None:
            return []
        return list(topics.for_day(day).ranked())

    def item_title(self, topic: Topic) -> str:
        return str(topic)

    def item_description(self, topic: Topic) -> str:
        return topic.dek or topic.summary

    def item_pubdate(self, topic: Topic) -> dt.datetime | None:
        return topic.latest_at or topic.created_at

    def item_updateddate(self, topic: Topic) -> dt.datetime | None:
        return topic.updated_at

    def item_categories(self, topic: Topic) -> list[str]:
        return [topic.category] if topic.category else []

    def item_guid(self, topic: Topic) -> str:
        # The cluster id never changes as a topic grows, so readers do not see it twice.
        return f"daybrief:topic:{topic.cluster_id}"

    item_guid_is_permalink = False

"""RSS 2.0 and Atom feeds of the topics the index shows: the latest day's, ranked, optionally
one category (/feed/<category>/ or ?category=).
"""

import datetime as dt

from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape

from topics.models import Topic, TopicCategory
from topics.views import latest_day_with_topics


class RankedTopicsFeed(Feed[Topic, TopicCategory | None]):
    description = "Today's news, clustered into topics and ranked by importance."

    def get_object(self, request: HttpRequest, category: str = "") -> TopicCategory | None:
        slug = category or request.GET.get("category", "")
        if not slug:
            return None
        found = TopicCategory.objects.filter(slug=slug, is_active=True).first()
        if found is None and category:
            raise Http404("No such category.")
        return found

    def title(self, category: TopicCategory | None) -> str:
        suffix = f" in {category.name}" if category else ""
        return f"Daybrief: the day's topics{suffix}"

    def link(self, category: TopicCategory | None) -> str:
        url = reverse("topics:index")
        return f"{url}?category={category.slug}" if category else url

    def items(self, category: TopicCategory | None) -> list[Topic]:
        topics = Topic.objects.visible()
        if category:
            topics = topics.filter(category=category.slug)
        day = latest_day_with_topics(topics, until=timezone.localdate())
        if day is None:
            return []
        return list(topics.for_day(day).ranked())

    def item_title(self, topic: Topic) -> str:
        return str(topic)

    def item_description(self, topic: Topic) -> str:
        # Readers treat descriptions as HTML: escape, so feed text can never become markup.
        parts = [f"<p>{escape(text)}</p>" for text in (topic.dek, topic.summary) if text]
        return "".join(parts)

    def item_pubdate(self, topic: Topic) -> dt.datetime | None:
        return topic.latest_at or topic.created_at

    def item_updateddate(self, topic: Topic) -> dt.datetime | None:
        return topic.updated_at

    def item_categories(self, topic: Topic) -> list[str]:
        return [topic.category, *topic.tags] if topic.category else list(topic.tags)

    def item_guid(self, topic: Topic) -> str:
        # The cluster id never changes as a topic grows, so readers do not see it twice.
        return f"daybrief:topic:{topic.cluster_id}"

    item_guid_is_permalink = False


class RankedTopicsAtomFeed(RankedTopicsFeed):
    feed_type = Atom1Feed
    subtitle = RankedTopicsFeed.description

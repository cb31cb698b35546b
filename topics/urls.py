import datetime as dt

from django.urls import path, register_converter

from topics import feeds, views


class IsoDateConverter:
    """A calendar day written as YYYY-MM-DD; impossible dates like 2026-02-30 do not match."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> dt.date:
        # A ValueError here makes the URL not match, so the reader gets a 404.
        return dt.date.fromisoformat(value)

    def to_url(self, value: dt.date | str) -> str:
        return value if isinstance(value, str) else value.isoformat()


register_converter(IsoDateConverter, "isodate")

app_name = "topics"
urlpatterns = [
    path("", views.index, name="index"),
    path("day/<isodate:day>/", views.index, name="day"),
    path("search/", views.search, name="search"),
    path("topics/<str:cluster_id>/", views.detail, name="detail"),
    path("feed/", feeds.RankedTopicsFeed(), name="feed"),
    path("feed/atom/", feeds.RankedTopicsAtomFeed(), name="feed_atom"),
    path("feed/<slug:category>/", feeds.RankedTopicsFeed(), name="category_feed"),
    path("feed/<slug:category>/atom/", feeds.RankedTopicsAtomFeed(), name="category_feed_atom"),
]

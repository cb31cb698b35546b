"""The public topic pages: the day's index, one page per topic, and the RSS feed."""

import datetime as dt
import re
from html import unescape
from xml.etree import ElementTree

import feedparser
import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from tests.factories import make_article, make_source, make_topic
from topics.models import Article, Category, Kind, Relation, Topic
from topics.templatetags.topic_cards import age, blurb, iso_utc

NOW = dt.datetime(2026, 4, 23, 19, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
PUBLISHED = dt.datetime(2026, 4, 20, 18, 25, 2, tzinfo=dt.UTC)
LEAD_URL = "https://www.interconnects.ai/p/reading-todays-open-closed-performance"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def reference_topic(**fields: object) -> Topic:
    """The topic of /work/shared/reference/topic-card.md, first seen today."""
    source = make_source(name="Interconnects (Nathan Lambert)", relation=Relation.FIRST_PARTY)
    article = make_article(
        source,
        title="Reading today's open-closed performance gap",
        text="Why open models trail closed ones, and why benchmarks hide it.",
        kind=Kind.OPINION,
        url=LEAD_URL,
        published_at=PUBLISHED,
        first_seen_at=NOW - dt.timedelta(hours=1),
        importance=2,
    )
    defaults: dict[str, object] = {
        "headline": "Analysis: Open versus closed model performance gaps",
        "dek": "Nathan Lambert analyzes why open models lag closed models.",
        "summary": "Nathan Lambert examines the persistent performance gap between open models.",
        "category": Category.BUSINESS,
        "primary_entity": "Nathan Lambert",
        "tags": ["ChatGPT", "Claude", "Gemini"],
        "importance": 2,
        "importance_max": 2,
        "lead_article": article,
        "article_count": 1,
        "source_count": 1,
        "earliest_at": PUBLISHED,
        "latest_at": PUBLISHED,
        "score": 1.0,
    }
    defaults.update(fields)
    return make_topic([article], **defaults)


def build_topic(
    headline: str,
    *,
    seen: dt.datetime = NOW - dt.timedelta(hours=2),
    articles: int = 1,
    **fields: object,
) -> Topic:
    """A topic whose `articles` articles each come from their own source."""
    members = [
        make_article(
            make_source(name=f"{headline} source {n}"),
            title=f"{headline} article {n}",
            published_at=seen - dt.timedelta(minutes=n),
            first_seen_at=seen,
        )
        for n in range(articles)
    ]
    defaults: dict[str, object] = {
        "headline": headline,
        "category": Category.TECHNOLOGY,
        "article_count": articles,
        "source_count": articles,
        "lead_article": members[0],
    }
    defaults.update(fields)
    return make_topic(members, **defaults)


def page_text(html: str) -> str:
    """The page as text, as a reader or screen reader gets it: no tags, whitespace collapsed."""
    return " ".join(unescape(strip_tags(html)).split())


def headlines_in(html: str) -> list[str]:
    return re.findall(r'class="card-headline"><a href="[^"]+">([^<]+)</a>', html)


# --- Index -----------------------------------------------------------------


def test_index_lists_todays_visible_topics_by_rank(client):
    build_topic("Second", score=1.0)
    build_topic("First", score=5.0)
    build_topic("Hidden", score=9.0, is_hidden=True)
    build_topic("Yesterday", score=9.0, seen=NOW - dt.timedelta(days=1))

    response = client.get(reverse("topics:index"))

    assert response.status_code == 200
    assert headlines_in(response.content.decode()) == ["First", "Second"]
    assert "Today's topics" in response.content.decode()


def test_index_card_shows_every_element_of_the_reference_card(client):
    topic = reference_topic()

    html = client.get(reverse("topics:index")).content.decode()

    assert "2/5" in html  # the importance badge
    assert ">business</a>" in html
    assert "Nathan Lambert" in html
    assert "single-source" in html
    assert "1 article" in html
    assert f'<a href="{topic.get_absolute_url()}">{topic.headline}</a>' in html
    assert topic.dek in html
    assert "Interconnects (Nathan Lambert)" in html  # the sources line


def test_index_card_counts_sources_and_articles(client):
    build_topic("Widely covered", articles=4)

    html = client.get(reverse("topics:index")).content.decode()

    assert "4 sources" in html
    assert "4 articles" in html


def test_index_falls_back_to_the_most_recent_day_with_topics_and_says_so(client):
    build_topic("Older", seen=NOW - dt.timedelta(days=5))
    build_topic("Latest", seen=NOW - dt.timedelta(days=2))

    html = client.get(reverse("topics:index")).content.decode()

    assert headlines_in(html) == ["Latest"]
    assert "Nothing new yet today" in html
    assert "Tuesday 21 April" in html  # the day the page shows


def test_index_without_any_topics_says_there_are_none(client):
    html = client.get(reverse("topics:index")).content.decode()

    assert "No topics for this day." in html
    assert "Nothing new yet today" not in html


def test_day_page_shows_that_days_topics(client):
    build_topic("Today")
    build_topic("Monday", seen=NOW - dt.timedelta(days=3))

    html = client.get(reverse("topics:day", args=["2026-04-20"])).content.decode()

    assert headlines_in(html) == ["Monday"]
    assert "Topics for <time" in html
    assert "Nothing new yet today" not in html  # the reader asked for this day


def test_day_page_links_to_the_nearest_days_with_topics(client):
    build_topic("Earlier", seen=NOW - dt.timedelta(days=6))
    build_topic("Middle", seen=NOW - dt.timedelta(days=3))
    build_topic("Today")

    html = client.get(reverse("topics:day", args=["2026-04-20"])).content.decode()

    # Days in between have no topics, so the links skip them.
    assert 'rel="prev" href="/day/2026-04-17/"' in html
    assert 'rel="next" href="/day/2026-04-23/"' in html


def test_todays_index_has_no_next_day_link(client):
    build_topic("Today")
    build_topic("Yesterday", seen=NOW - dt.timedelta(days=1))

    html = client.get(reverse("topics:index")).content.decode()

    assert 'rel="prev" href="/day/2026-04-22/"' in html
    assert 'rel="next"' not in html


def test_day_page_with_an_impossible_date_is_not_found(client):
    assert client.get("/day/2026-02-30/").status_code == 404
    assert client.get("/day/yesterday/").status_code == 404


def test_category_filter_shows_only_that_category(client):
    build_topic("Chips", category=Category.TECHNOLOGY, score=2.0)
    build_topic("Vaccines", category=Category.HEALTH, score=1.0)

    html = client.get(reverse("topics:index"), {"category": "health"}).content.decode()

    assert headlines_in(html) == ["Vaccines"]
    assert '<a href="?category=health" aria-current="page">Health</a>' in html
    assert '<a href="?category=technology">Technology</a>' in html


def test_category_filter_is_kept_when_browsing_days(client):
    build_topic("Vaccines", category=Category.HEALTH)
    build_topic("Old vaccines", category=Category.HEALTH, seen=NOW - dt.timedelta(days=2))
    build_topic("Old chips", category=Category.TECHNOLOGY, seen=NOW - dt.timedelta(days=1))

    html = client.get(reverse("topics:index"), {"category": "health"}).content.decode()

    # Yesterday only has technology, so the previous health day is two days back.
    assert 'rel="prev" href="/day/2026-04-21/?category=health"' in html


def test_unknown_category_is_ignored(client):
    build_topic("Chips", score=2.0)
    build_topic("Vaccines", category=Category.HEALTH, score=1.0)

    html = client.get(reverse("topics:index"), {"category": "gossip"}).content.decode()

    assert headlines_in(html) == ["Chips", "Vaccines"]


def test_index_links_to_subscribe_and_the_feed(client):
    html = client.get(reverse("topics:index")).content.decode()

    assert f'href="{reverse("newsletter:subscribe")}"' in html
    feed = reverse("topics:feed")
    assert f'type="application/rss+xml" title="Daybrief topics" href="{feed}"' in html


@pytest.mark.parametrize("count", [3, 20])
def test_index_query_count_does_not_grow_with_topics(client, django_assert_num_queries, count):
    for n in range(count):
        build_topic(f"Topic {n}", articles=2, score=float(n))

    # Latest day, topics, their articles, categories, previous day, next day.
    with django_assert_num_queries(6):
        response = client.get(reverse("topics:index"))

    assert len(headlines_in(response.content.decode())) == count


def test_index_shows_the_top_ranked_topics_and_links_to_more(client, settings):
    settings.DAYBRIEF_INDEX_TOPICS = 2
    for n in range(5):
        build_topic(f"Topic {n}", score=float(n))

    html = client.get(reverse("topics:index")).content.decode()

    assert headlines_in(html) == ["Topic 4", "Topic 3"]
    assert '<a href="?page=2">More topics</a>' in html


def test_more_topics_pages_continue_the_ranking_until_the_last(client, settings):
    settings.DAYBRIEF_INDEX_TOPICS = 2
    for n in range(5):
        build_topic(f"Topic {n}", score=float(n))

    second = client.get(reverse("topics:index"), {"page": 2}).content.decode()
    last = client.get(reverse("topics:index"), {"page": 3}).content.decode()

    assert headlines_in(second) == ["Topic 2", "Topic 1"]
    assert '<ol class="topic-list" role="list" start="3">' in second
    assert headlines_in(last) == ["Topic 0"]
    assert "More topics" not in last


def test_more_topics_keeps_the_category_and_tag(client, settings):
    settings.DAYBRIEF_INDEX_TOPICS = 1
    for n in range(3):
        build_topic(f"Vaccines {n}", category=Category.HEALTH, tags=["Helix"], score=float(n))
    build_topic("Chips", tags=["Helix"], score=10.0)

    query = {"category": "health", "tag": "Helix"}
    html = client.get(reverse("topics:day", args=[TODAY.isoformat()]), query).content.decode()
    second = client.get(reverse("topics:index"), {**query, "page": 2}).content.decode()

    assert '<a href="?category=health&amp;tag=Helix&amp;page=2">More topics</a>' in html
    assert headlines_in(second) == ["Vaccines 1"]


def test_a_page_past_the_last_is_not_found_and_a_bad_page_is_the_first(client, settings):
    settings.DAYBRIEF_INDEX_TOPICS = 2
    build_topic("Only")

    assert client.get(reverse("topics:index"), {"page": 2}).status_code == 404
    html = client.get(reverse("topics:index"), {"page": "-1"}).content.decode()
    assert headlines_in(html) == ["Only"]


def test_day_links_skip_days_whose_topics_are_hidden(client):
    build_topic("Earlier", seen=NOW - dt.timedelta(days=4))
    build_topic("Hidden yesterday", seen=NOW - dt.timedelta(days=1), is_hidden=True)
    build_topic("Hidden on the 20th", seen=NOW - dt.timedelta(days=3), is_hidden=True)
    build_topic("Today")

    html = client.get(reverse("topics:day", args=["2026-04-19"])).content.decode()
    today = client.get(reverse("topics:index")).content.decode()

    assert 'rel="next" href="/day/2026-04-23/"' in html
    assert 'rel="prev" href="/day/2026-04-19/"' in today


@pytest.mark.parametrize("count", [3, 20])
def test_later_index_pages_query_count_does_not_grow_with_topics(
    client, django_assert_num_queries, settings, count
):
    settings.DAYBRIEF_INDEX_TOPICS = 2
    for n in range(count + 2):
        build_topic(f"Topic {n}", articles=2, score=float(n))

    # Latest day, topics, their articles, categories, previous day, next day.
    with django_assert_num_queries(6):
        response = client.get(reverse("topics:index"), {"page": 2})

    assert len(headlines_in(response.content.decode())) == 2


# --- Topic page ------------------------------------------------------------


def test_topic_page_shows_every_element_of_the_reference_card(client):
    topic = reference_topic()

    html = client.get(topic.get_absolute_url()).content.decode()

    assert f'<a href="{reverse("topics:index")}">← Back to topics</a>' in html
    assert '<span class="visually-hidden">Importance </span>2<' in html
    assert ">business</a>" in html
    assert '<li class="entity">Nathan Lambert</li>' in html
    assert '<li class="coverage">single-source</li>' in html
    assert '<li class="count">1 article</li>' in html
    assert f"<h1>{topic.headline}</h1>" in html
    assert f'<p class="dek">{topic.dek}</p>' in html
    assert "Reading today&#x27;s open-closed performance gap</span>" in html  # the lead
    assert '<span class="via">via Interconnects (Nathan Lambert)</span>' in html
    assert "Let's dive in</h2>" in html
    assert f"<p>{topic.summary}</p>" in html
    assert (
        f'Lead coverage: <a href="{LEAD_URL}" rel="noopener">Interconnects (Nathan Lambert) — '
        "Reading today&#x27;s open-closed performance gap" in html
    )
    assert "The timeline · 1 source</h2>" in html
    assert "Tags</h2>" in html
    for tag in ["ChatGPT", "Claude", "Gemini"]:
        assert f'<li><a href="/?tag={tag}">{tag}</a></li>' in html


def test_topic_page_reads_in_the_order_of_the_reference_card(client):
    topic = reference_topic()

    text = page_text(client.get(topic.get_absolute_url()).content.decode())

    assert (
        "← Back to topics Importance 2 out of 5 business Nathan Lambert single-source 1 article "
        f"{topic.headline} {topic.dek} "
        "Reading today's open-closed performance gap via Interconnects (Nathan Lambert) "
        f"🔍 Let's dive in {topic.summary} "
        "Lead coverage: Interconnects (Nathan Lambert) — Reading today's open-closed performance "
        "gap ↗ 🕰 The timeline · 1 source Interconnects (Nathan Lambert) first-party opinion"
    ) in text
    assert "🏷 Tags ChatGPT Claude Gemini" in text


def test_topic_page_timeline_entry_matches_the_reference(client):
    topic = reference_topic()

    html = client.get(topic.get_absolute_url()).content.decode()

    assert (
        "Interconnects (Nathan Lambert) first-party opinion · 3d ago · 2/5 "
        "Reading today's open-closed performance gap ↗"
    ) in page_text(html)
    assert f'<a href="{LEAD_URL}" rel="noopener">Reading today&#x27;s' in html
    assert "Why open models trail closed ones, and why benchmarks hide it." in html


def test_topic_page_timeline_lists_every_article_oldest_first(client):
    reuters = make_source(name="Reuters")
    newest = make_article(reuters, title="Newest", published_at=NOW - dt.timedelta(hours=2))
    oldest = make_article(reuters, title="Oldest", published_at=NOW - dt.timedelta(days=1))
    middle = make_article(
        make_source(name="OpenAI blog", relation=Relation.FIRST_PARTY),
        title="Middle",
        kind=Kind.ANNOUNCEMENT,
        published_at=NOW - dt.timedelta(hours=5),
    )
    topic = make_topic([newest, oldest, middle], headline="Three", article_count=3, source_count=2)

    html = client.get(topic.get_absolute_url()).content.decode()

    titles = re.findall(r'<h3 class="entry-title"><a [^>]+>(\w+) ', html)
    assert titles == ["Oldest", "Middle", "Newest"]
    assert "The timeline · 2 sources</h2>" in html
    text = page_text(html)
    assert "OpenAI blog first-party announcement · 5h ago · 1/5 Middle ↗" in text
    # Third-party reporting shows only its kind.
    assert "Reuters news · 2h ago · 1/5 Newest ↗" in text


def test_topic_page_shows_article_summary_as_plain_text(client):
    article = make_article(
        title="Headline",
        text="",
        summary_html="<p>Plain <b>bold</b> words</p>",
    )
    topic = make_topic([article], headline="Topic", article_count=1)

    html = client.get(topic.get_absolute_url()).content.decode()

    assert '<p class="entry-summary">Plain bold words</p>' in html


def test_unknown_topic_is_not_found(client):
    assert client.get(reverse("topics:detail", args=["0000000000"])).status_code == 404


def test_hidden_topic_is_not_found_for_readers(client):
    topic = reference_topic(is_hidden=True)

    assert client.get(topic.get_absolute_url()).status_code == 404


def test_empty_topic_is_not_found_for_readers(client):
    topic = make_topic(headline="Nothing in it")

    assert client.get(topic.get_absolute_url()).status_code == 404


def test_hidden_topic_is_shown_to_staff_with_a_notice(client, admin_user):
    topic = reference_topic(is_hidden=True)
    client.force_login(admin_user)

    response = client.get(topic.get_absolute_url())

    assert response.status_code == 200
    assert "Hidden from readers" in response.content.decode()


def test_debug_panel_is_hidden_from_readers(client):
    topic = reference_topic()

    html = client.get(topic.get_absolute_url()).content.decode()

    assert "Debug</h2>" not in html
    assert topic.cluster_id not in html


def test_debug_panel_is_shown_with_debug_parameter(client):
    topic = reference_topic()

    html = client.get(topic.get_absolute_url(), {"debug": "1"}).content.decode()

    assert "Debug</h2>" in html
    assert f"<dt>Cluster ID</dt><dd><code>{topic.cluster_id}</code></dd>" in html
    assert "<dt>Importance (max)</dt><dd>2</dd>" in html
    assert "<dt>Members</dt><dd>1</dd>" in html
    assert "<dt>Sources</dt><dd>Interconnects (Nathan Lambert)</dd>" in html
    assert "<dt>Earliest</dt><dd><code>2026-04-20T18:25:02.000Z</code></dd>" in html
    assert "<dt>Latest</dt><dd><code>2026-04-20T18:25:02.000Z</code></dd>" in html
    assert f'<dt>Lead URL</dt><dd><a href="{LEAD_URL}" rel="noopener">{LEAD_URL}</a>' in html


def test_debug_panel_is_shown_to_staff(client, django_user_model):
    editor = django_user_model.objects.create_user("editor", is_staff=True)
    client.force_login(editor)
    topic = reference_topic()

    html = client.get(topic.get_absolute_url()).content.decode()

    assert "Debug</h2>" in html


def test_debug_panel_is_not_shown_to_logged_in_readers(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("reader"))
    topic = reference_topic()

    assert "Debug</h2>" not in client.get(topic.get_absolute_url()).content.decode()


def test_topic_without_lead_article_leads_with_its_oldest_article(client):
    topic = build_topic("Leaderless", articles=2, lead_article=None)

    html = client.get(topic.get_absolute_url()).content.decode()

    # build_topic publishes article n at minute -n, so article 1 is the oldest.
    assert '<span class="via">via Leaderless source 1</span>' in html


@pytest.mark.parametrize("count", [1, 10])
def test_topic_page_query_count_does_not_grow_with_articles(
    client, django_assert_num_queries, count
):
    topic = build_topic("Busy", articles=count)

    # The topic with its lead, then its articles with their sources.
    with django_assert_num_queries(2):
        response = client.get(topic.get_absolute_url(), {"debug": "1"})

    assert response.content.decode().count('class="entry"') == count


# --- Feed ------------------------------------------------------------------


def test_feed_lists_todays_ranked_topics(client):
    build_topic("Second", score=1.0, dek="The second dek.")
    first = build_topic("First", score=5.0, category=Category.SCIENCE)
    build_topic("Hidden", score=9.0, is_hidden=True)

    response = client.get(reverse("topics:feed"))
    feed = feedparser.parse(response.content)

    assert response.status_code == 200
    assert not feed.bozo
    assert feed.feed.title == "Daybrief: the day's topics"
    assert [entry.title for entry in feed.entries] == ["First", "Second"]
    assert feed.entries[0].link == f"http://testserver{first.get_absolute_url()}"
    assert feed.entries[0].id == f"daybrief:topic:{first.cluster_id}"
    assert feed.entries[0].tags[0].term == "science"
    assert feed.entries[1].summary == "<p>The second dek.</p>"


def test_feed_falls_back_to_the_most_recent_day_with_topics(client):
    build_topic("Older", seen=NOW - dt.timedelta(days=3))

    feed = feedparser.parse(client.get(reverse("topics:feed")).content)

    assert [entry.title for entry in feed.entries] == ["Older"]


def test_feed_filters_by_category(client):
    build_topic("Chips", category=Category.TECHNOLOGY)
    build_topic("Vaccines", category=Category.HEALTH)

    response = client.get(reverse("topics:feed"), {"category": "health"})
    feed = feedparser.parse(response.content)

    assert [entry.title for entry in feed.entries] == ["Vaccines"]
    assert feed.feed.link == "http://testserver/?category=health"


def test_feed_without_topics_is_empty_but_valid(client):
    feed = feedparser.parse(client.get(reverse("topics:feed")).content)

    assert not feed.bozo
    assert feed.entries == []


# --- Template helpers ------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "label"),
    [
        (dt.timedelta(seconds=30), "just now"),
        (dt.timedelta(minutes=5), "5m ago"),
        (dt.timedelta(hours=2, minutes=59), "2h ago"),
        (dt.timedelta(days=3, hours=1), "3d ago"),
        (-dt.timedelta(minutes=5), "just now"),
    ],
)
def test_age_reads_like_the_card(delta, label):
    assert age(NOW - delta) == label


def test_iso_utc_writes_milliseconds_and_z():
    local = dt.datetime(2026, 4, 20, 20, 25, 2, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    assert iso_utc(local) == "2026-04-20T18:25:02.123Z"


def test_blurb_is_empty_when_it_would_repeat_the_title():
    assert blurb(Article(title="Same", text="Same")) == ""


def test_blurb_truncates_long_text():
    text = blurb(Article(title="T", text="word " * 200))

    assert len(text) <= 320
    assert text.endswith("…")


# --- Tags, search, more feeds ---------------------------------------------


def test_tag_filter_shows_only_topics_with_that_tag(client):
    build_topic("Chips", tags=["Lumora", "Helix"])
    build_topic("Vaccines", tags=["Merrow"])

    html = client.get(reverse("topics:index"), {"tag": "helix"}).content.decode()

    assert headlines_in(html) == ["Chips"]
    assert "tagged <strong>helix</strong>" in html


def test_tag_filter_matches_whole_tags_in_any_case_and_script(client):
    build_topic("Chips", tags=["Helix chips"])
    build_topic("Lake", tags=["Zürich"])

    partial = client.get(reverse("topics:index"), {"tag": "helix"}).content.decode()
    accented = client.get(reverse("topics:index"), {"tag": "zÜrich"}).content.decode()

    assert headlines_in(partial) == []
    assert headlines_in(accented) == ["Lake"]


def test_tag_chips_on_the_index_link_to_the_tag_page(client):
    build_topic("Chips", tags=["Lumora Systems"])

    html = client.get(reverse("topics:index")).content.decode()

    assert '<a href="/?tag=Lumora%20Systems">Lumora Systems</a>' in html


def test_day_navigation_keeps_the_tag(client):
    build_topic("Yesterday", seen=NOW - dt.timedelta(days=1), tags=["Helix"])
    build_topic("Today", tags=["Helix"])

    html = client.get(reverse("topics:index"), {"tag": "Helix"}).content.decode()

    yesterday = (NOW - dt.timedelta(days=1)).date().isoformat()
    assert f'href="/day/{yesterday}/?tag=Helix"' in html


@pytest.mark.parametrize("count", [2, 15])
def test_tag_page_query_count_does_not_grow_with_topics(client, django_assert_num_queries, count):
    for n in range(count):
        build_topic(f"Topic {n}", articles=2, score=float(n), tags=["Helix"])

    # Tagged ids, then the index's six.
    with django_assert_num_queries(7):
        response = client.get(reverse("topics:index"), {"tag": "Helix"})

    assert len(headlines_in(response.content.decode())) == count


def test_search_finds_topics_by_every_word(client):
    build_topic("Lumora buys Brightwave", dek="A robot maker changes hands.")
    build_topic("Lumora ships a chip", dek="The Helix chip is out.")
    build_topic("Rail strike", dek="Trains stop.")

    html = client.get(reverse("topics:search"), {"q": "lumora robot"}).content.decode()

    assert headlines_in(html) == ["Lumora buys Brightwave"]
    assert "1 topic for “lumora robot”" in html


def test_search_leaves_out_hidden_topics_and_says_when_nothing_matches(client):
    build_topic("Secret plan", is_hidden=True)

    html = client.get(reverse("topics:search"), {"q": "secret"}).content.decode()

    assert headlines_in(html) == []
    assert "No topics mention “secret”." in html


@pytest.mark.parametrize("count", [2, 15])
def test_search_query_count_does_not_grow_with_results(client, django_assert_num_queries, count):
    for n in range(count):
        build_topic(f"Harbour {n}", articles=2)

    # Topics with their leads, then their articles.
    with django_assert_num_queries(2):
        response = client.get(reverse("topics:search"), {"q": "harbour"})

    assert len(headlines_in(response.content.decode())) == count


def test_search_escapes_the_query(client):
    html = client.get(reverse("topics:search"), {"q": "<script>x</script>"}).content.decode()

    assert "<script>x" not in html


def test_per_category_feed_lists_only_that_category_and_is_rss_2(client):
    build_topic("Vaccines", category="health", dek="Shots <b>work</b>.")
    build_topic("Chips", category="technology")

    response = client.get(reverse("topics:category_feed", args=["health"]))

    root = ElementTree.fromstring(response.content)  # well-formed XML
    assert (root.tag, root.get("version")) == ("rss", "2.0")
    feed = feedparser.parse(response.content)
    assert not feed.bozo
    assert feed.version == "rss20"
    assert feed.feed.title == "Daybrief: the day's topics in Health"
    assert [entry.title for entry in feed.entries] == ["Vaccines"]
    # The dek is text: its angle brackets arrive escaped, never as markup.
    assert feed.entries[0].summary == "<p>Shots &lt;b&gt;work&lt;/b&gt;.</p>"


def test_atom_feeds_are_well_formed_atom(client):
    build_topic("Vaccines", category="health")
    build_topic("Chips", category="technology")

    for url in [reverse("topics:feed_atom"), reverse("topics:category_feed_atom", args=["health"])]:
        response = client.get(url)
        root = ElementTree.fromstring(response.content)
        assert root.tag == "{http://www.w3.org/2005/Atom}feed"
        feed = feedparser.parse(response.content)
        assert not feed.bozo
        assert feed.version == "atom10"
        assert "Vaccines" in [entry.title for entry in feed.entries]


def test_feed_of_an_unknown_category_is_not_found(client):
    assert client.get(reverse("topics:category_feed", args=["gossip"])).status_code == 404


def test_debug_panel_is_hidden_from_readers_unless_asked_for(client):
    topic = build_topic("Chips")

    assert "Cluster ID" not in client.get(topic.get_absolute_url()).content.decode()
    html = client.get(topic.get_absolute_url(), {"debug": "1"}).content.decode()
    assert "Cluster ID" in html and "Rank score" in html

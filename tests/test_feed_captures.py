"""Real feeds captured from the web (../shared/data/feeds) as parser fixtures; every test
here skips when that directory is absent."""

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine

from tests.factories import make_source
from topics.charsets import with_detected_charset
from topics.feed_parsing import parse_document, parse_feed
from topics.ingestion import NotAFeed, ingest_feed
from topics.models import Article

pytestmark = pytest.mark.shared_data

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
EARLIEST = dt.datetime(1995, 1, 1, tzinfo=dt.UTC)
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf"}
# UTF-8 read as windows-1252 ("Ã©" for "é", "â€™" for "’"), or bytes that decoded to nothing.
MOJIBAKE = re.compile("\ufffd|â€|Ã[\u0080-\u00bf]|Â[\u0080-\u00bf]")
# Captures of the same five feeds on several days (orx365/rss-arch), oldest first.
SNAPSHOTS = "orx365-rss-arch"
SNAPSHOT_FEEDS = ["economist", "ft-home", "nyt_econ", "wsj_econ", "wsj_world"]


def captures(shared_data: Path) -> list[Path]:
    files = sorted(p for p in (shared_data / "feeds").rglob("*") if p.suffix in FEED_SUFFIXES)
    assert files, "no feed captures found"
    return files


def test_real_feed_captures_parse_into_safe_unique_entries(shared_data: Path) -> None:
    for path in captures(shared_data):
        records = parse_feed(path.read_bytes(), "application/xml", "https://feeds.example/", NOW)
        assert records, f"{path.name}: no entries"
        identities = [r.identity for r in records]
        assert len(identities) == len(set(identities)), f"{path.name}: duplicate identities"
        for record in records:
            fields = record.article_fields()
            assert record.identity and len(record.identity) <= 500, path.name
            assert fields["title"], f"{path.name}: an entry without a title"
            assert "<script" not in fields["summary_html"] + fields["content_html"], path.name
            assert not fields["url"] or fields["url"].startswith(("http://", "https://"))
            assert EARLIEST <= record.published_at <= NOW + dt.timedelta(days=1), path.name
            assert not MOJIBAKE.search(fields["text"]), f"{path.name}: {fields['text'][:80]}"


@pytest.mark.parametrize(
    ("capture", "expected"),
    [
        # Declared ISO-8859-1 in the XML prolog: the first entry's title.
        ("rbren-rss-parser/encoding.rss", "Mãe de utente é a nova presidente da Raríssimas"),
        # Declared gb2312 (Simplified Chinese): the first entry's title.
        ("ranchero-rsparser/kc0011.rss", "建国35周年纪念，华表，和平鸽"),
        # Slovak in UTF-8: the feed's title.
        ("ranchero-rsparser/aktuality.rss", "Aktuality.sk - aktuálne spravodajstvo"),
    ],
)
def test_declared_encodings_of_real_feeds_are_honoured(
    shared_data: Path, capture: str, expected: str
) -> None:
    body = (shared_data / "feeds" / capture).read_bytes()

    parsed = parse_document(body, "application/xml", "https://feeds.example/", NOW)

    assert expected in (parsed.title, parsed.records[0].title)


def test_a_real_feed_without_any_encoding_declaration_is_read_as_windows_1252(
    shared_data: Path,
) -> None:
    # UOL serves Portuguese in ISO-8859-1 with no XML declaration at all.
    body = (shared_data / "feeds" / "rbren-rss-parser" / "uolNoticias.rss").read_bytes()

    parsed = parse_document(body, "application/rss+xml", "https://rss.uol.com.br/", NOW)

    assert with_detected_charset(body, "application/rss+xml").endswith("charset=cp1252")
    assert parsed.records[0].summary.find("Líder na pesquisa Ibope de intenção de voto") > 0


def test_a_json_feed_is_reported_as_unsupported(shared_data: Path) -> None:
    body = (shared_data / "feeds" / "ranchero-rsparser" / "DaringFireball.json").read_bytes()

    with pytest.raises(NotAFeed, match="JSON Feed is not supported"):
        parse_feed(body, "application/feed+json", "https://daringfireball.net/feeds/json", NOW)


@pytest.mark.django_db
@pytest.mark.parametrize("feed", SNAPSHOT_FEEDS)
def test_daily_snapshots_of_a_real_feed_store_each_story_once(shared_data: Path, feed: str) -> None:
    days = sorted(p for p in (shared_data / "feeds" / SNAPSHOTS).iterdir() if p.is_dir())
    source = make_source(feed_url=f"https://{feed}.example/feed.xml")
    first_day: dict[str, dt.datetime] = {}
    for day in days:
        when = dt.datetime.fromisoformat(f"{day.name}T16:30:00+00:00")  # the capture time
        body = (day / f"{feed}.xml").read_bytes()
        with time_machine.travel(when, tick=False):
            records = parse_feed(body, "application/rss+xml", source.feed_url, when)
            result = ingest_feed(source, body, "application/rss+xml", source.feed_url)
            again = ingest_feed(source, body, "application/rss+xml", source.feed_url)
        fresh = {r.identity for r in records} - first_day.keys()
        first_day.update(dict.fromkeys(fresh, when))

        assert result.new == len(fresh), day.name
        assert (again.new, again.updated) == (0, 0), f"{day.name}: the same document again"

    stored = dict(source.articles.values_list("identity", "first_seen_at"))
    assert stored == first_day  # one row per story, dated by the capture that first had it
    assert Article.objects.count() == len(first_day)

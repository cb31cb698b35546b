import pytest

from newsletter import tokens
from newsletter.models import Subscriber
from tests.factories import make_subscriber
from topics.models import TopicCategory

pytestmark = [pytest.mark.django_db]


def page(subscriber: Subscriber) -> str:
    return f"/preferences/{tokens.make_token(tokens.PREFERENCES, subscriber.pk)}/"


def test_the_signed_link_opens_the_readers_preferences_without_a_password(client):
    reader = make_subscriber("reader@example.com", max_topics=7)
    response = client.get(page(reader))
    assert response.status_code == 200
    assert 'value="7"' in response.content.decode()
    assert "Unsubscribe instead" in response.content.decode()


def test_saving_changes_what_the_next_digest_carries_and_when(client):
    reader = make_subscriber("reader@example.com")
    slugs = list(TopicCategory.objects.values_list("slug", flat=True)[:2])
    response = client.post(
        page(reader),
        {
            "categories": slugs,
            "min_importance": "3",
            "max_topics": "5",
            "delivery_hour": "6",
            "time_zone": "Europe/Paris",
            "paused": "on",
        },
    )
    assert response.status_code == 200
    assert "Saved." in response.content.decode()
    reader.refresh_from_db()
    assert (reader.categories, reader.min_importance, reader.max_topics) == (slugs, 3, 5)
    assert (reader.delivery_hour, reader.time_zone, reader.paused) == (6, "Europe/Paris", True)


def test_bad_values_are_refused_and_nothing_is_saved(client):
    reader = make_subscriber("reader@example.com")
    response = client.post(
        page(reader), {"min_importance": "9", "max_topics": "500", "time_zone": "Mars/Base"}
    )
    assert "Saved." not in response.content.decode()
    reader.refresh_from_db()
    assert (reader.min_importance, reader.max_topics, reader.time_zone) == (1, 10, "")


def test_a_forged_or_other_purpose_token_is_refused(client):
    reader = make_subscriber("reader@example.com")
    unsubscribe_token = tokens.make_token(tokens.UNSUBSCRIBE, reader.pk)
    assert client.get(f"/preferences/{unsubscribe_token}/").status_code == 400
    assert client.get("/preferences/1:forged:token/").status_code == 400

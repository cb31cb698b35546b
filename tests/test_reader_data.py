import csv
import io
import json

import pytest
from django.core.management import call_command

from newsletter import suppression, tokens
from newsletter.models import (
    Delivery,
    ReaderEmail,
    ReaderEmailKind,
    Subscriber,
    SubscriberStatus,
)
from tests.factories import make_subscriber

pytestmark = [pytest.mark.django_db]


def link(subscriber: Subscriber, action: str) -> str:
    return f"/preferences/{tokens.make_token(tokens.PREFERENCES, subscriber.pk)}/{action}/"


def test_a_reader_downloads_everything_we_keep_about_them(client):
    reader = make_subscriber("reader@example.com", name="Ana", max_topics=5)
    response = client.post(link(reader, "my-data"))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert (data["email"], data["name"]) == ("reader@example.com", "Ana")
    assert data["preferences"]["max_topics"] == 5
    assert data["deliveries"] == []
    assert data["emails"] == []


def test_the_download_lists_the_confirmation_and_goodbye_emails(client):
    reader = make_subscriber("reader@example.com")
    ReaderEmail.objects.create(subscriber=reader, kind=ReaderEmailKind.CONFIRM)
    data = json.loads(client.post(link(reader, "my-data")).content)
    [email] = data["emails"]
    assert (email["kind"], email["status"], email["sent_at"]) == ("confirm", "pending", None)


def test_deleting_needs_the_box_ticked_then_removes_the_reader_and_suppresses_them(client):
    reader = make_subscriber("reader@example.com")
    not_ticked = client.post(link(reader, "erase"))
    assert not_ticked.status_code == 302
    assert Subscriber.objects.exists()

    response = client.post(link(reader, "erase"), {"confirm": "yes"})
    assert response.status_code == 200
    assert not Subscriber.objects.exists()
    assert not Delivery.objects.exists()
    assert suppression.is_suppressed("reader@example.com")
    # The link is now dead: nothing left to show.
    assert client.post(link(reader, "my-data")).status_code == 400


def test_data_links_refuse_forged_tokens_and_get(client):
    reader = make_subscriber("reader@example.com")
    assert client.get(link(reader, "my-data")).status_code == 405
    assert client.post("/preferences/forged:token/erase/", {"confirm": "yes"}).status_code == 400
    assert Subscriber.objects.exists()


def test_export_subscribers_writes_csv_that_import_reads(tmp_path):
    make_subscriber("b@example.com", name="Bo")
    make_subscriber("p@example.com", status=SubscriberStatus.PENDING)
    out, err = io.StringIO(), io.StringIO()
    call_command("export_subscribers", "--status", "confirmed", stdout=out, stderr=err)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["email"], r["name"], r["status"]) for r in rows] == [
        ("b@example.com", "Bo", "confirmed")
    ]
    assert "1 subscribers exported." in err.getvalue()

    path = tmp_path / "all.csv"
    call_command("export_subscribers", str(path), stdout=out, stderr=err)
    Subscriber.objects.all().delete()
    call_command("import_subscribers", str(path), stdout=out, stderr=err)
    assert sorted(Subscriber.objects.values_list("email", flat=True)) == [
        "b@example.com",
        "p@example.com",
    ]

import datetime as dt

import pytest
import time_machine
from django.core import mail

from newsletter import sending
from newsletter.digests import build_digest
from newsletter.models import Delivery, DeliveryStatus, Digest, DigestStatus
from tests.factories import make_article, make_subscriber, make_topic

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def built_digest(*addresses: str) -> Digest:
    article = make_article(title="Rates cut")
    make_topic([article], headline="Rates cut", score=9, article_count=1, lead_article=article)
    for address in addresses:
        make_subscriber(address)
    return build_digest(NOW.date())


def test_counts_list_every_status_even_when_none_are_in_it():
    digest = built_digest("a@example.com", "b@example.com")
    counts = sending.delivery_counts(digest.pk)
    assert counts["pending"] == 2
    assert set(counts) == set(DeliveryStatus.values)
    assert sum(counts.values()) == 2


def test_counts_follow_the_sending():
    digest = built_digest("a@example.com", "b@example.com")
    sending.send_digest(digest.pk)
    counts = sending.delivery_counts(digest.pk)
    assert (counts["sent"], counts["pending"]) == (2, 0)


def test_a_paused_digest_sends_nothing_until_resumed(django_capture_on_commit_callbacks):
    digest = built_digest("a@example.com")
    assert sending.pause_digest(digest.pk) is True
    assert sending.send_digest(digest.pk).sent == 0
    assert mail.outbox == []
    # Resuming queues the sending again once committed (django-q2 runs it inline in tests).
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.resume_digest(digest.pk) is True
    assert [m.to for m in mail.outbox] == [["a@example.com"]]
    digest.refresh_from_db()
    assert digest.status == DigestStatus.SENT


def test_a_digest_paused_before_sending_still_waits_for_each_readers_hour_when_resumed(
    django_capture_on_commit_callbacks,
):
    make_subscriber("berlin@example.com", time_zone="Europe/Berlin", delivery_hour=10)
    digest = built_digest("now@example.com")
    # Paused while built, before sending started (and its mornings were scheduled).
    assert sending.pause_digest(digest.pk) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.resume_digest(digest.pk) is True
    # 07:00 UTC is 08:00 in Berlin: that reader waits until 10:00 there, 09:00 UTC.
    assert [m.to for m in mail.outbox] == [["now@example.com"]]
    berlin = Delivery.objects.get(subscriber__email="berlin@example.com")
    assert berlin.status == DeliveryStatus.PENDING
    assert berlin.send_after == dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(berlin.send_after - dt.timedelta(minutes=1), tick=False):
        assert sending.send_due_digests() == {digest.pk: 0}
    with time_machine.travel(berlin.send_after, tick=False):
        assert sending.send_due_digests() == {digest.pk: 1}
    assert sorted(m.to[0] for m in mail.outbox) == ["berlin@example.com", "now@example.com"]
    digest.refresh_from_db()
    assert digest.status == DigestStatus.SENT


def test_pausing_twice_or_resuming_a_running_digest_reports_false():
    digest = built_digest("a@example.com")
    assert sending.resume_digest(digest.pk) is False
    assert sending.pause_digest(digest.pk) is True
    assert sending.pause_digest(digest.pk) is False


def test_a_finished_digest_cannot_be_paused():
    digest = built_digest("a@example.com")
    sending.send_digest(digest.pk)
    assert sending.pause_digest(digest.pk) is False


def test_retrying_the_failed_sends_them_again_and_only_them(django_capture_on_commit_callbacks):
    digest = built_digest("a@example.com", "b@example.com")
    sending.send_digest(digest.pk)
    Delivery.objects.filter(subscriber__email="b@example.com").update(
        status=DeliveryStatus.FAILED, error="550 no such user", attempts=1
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.retry_failed(digest.pk) == 1
    assert [m.to for m in mail.outbox] == [["b@example.com"]]
    b = Delivery.objects.get(subscriber__email="b@example.com")
    assert (b.status, b.error) == (DeliveryStatus.SENT, "")
    assert sending.retry_failed(digest.pk) == 0


def test_a_test_send_reaches_only_the_editor_and_leaves_the_ledger_alone():
    digest = built_digest("a@example.com")
    message_id = sending.send_test(digest.pk, "Editor@Example.com")
    [message] = mail.outbox
    assert message.to == ["editor@example.com"]
    assert message.subject.startswith("[Test] Daybrief for")
    assert message.extra_headers["Message-ID"] == message_id
    assert "List-Unsubscribe" in message.extra_headers
    assert sending.delivery_counts(digest.pk)["pending"] == 1


def test_uncertain_deliveries_are_resent_only_when_an_editor_says_so(
    django_capture_on_commit_callbacks,
):
    digest = built_digest("a@example.com", "b@example.com")
    sending.send_digest(digest.pk)
    Delivery.objects.filter(subscriber__email="b@example.com").update(
        status=DeliveryStatus.UNCERTAIN
    )
    mail.outbox.clear()
    assert sending.send_digest(digest.pk).sent == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.resend_uncertain(digest.pk) == 1
    assert [m.to for m in mail.outbox] == [["b@example.com"]]

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail

from newsletter import subscriptions, tokens
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.subscriptions import (
    ImportRow,
    confirm_subscription,
    import_subscribers,
    request_subscription,
    unsubscribe,
)
from tests.factories import make_subscriber

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Emails go out after commit: `with committed():` runs them as a real request would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def confirm_token_in(message: mail.EmailMessage) -> str:
    return re.search(r"/confirm/([^/\s]+)/", message.body)[1]


def test_a_new_address_becomes_pending_and_gets_a_confirmation_link(committed):
    with committed():
        subscriber = request_subscription(" Alice@Example.com ", "Alice")
    assert (subscriber.email, subscriber.name) == ("alice@example.com", "Alice")
    assert subscriber.status == SubscriberStatus.PENDING
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert tokens.read_token(tokens.CONFIRM, confirm_token_in(message)) == subscriber.pk


def test_asking_again_while_pending_resends_the_link_without_a_second_subscriber(committed):
    with committed():
        request_subscription("alice@example.com", "Alice")
    with committed():
        request_subscription("ALICE@example.com", "Mallory")
    assert Subscriber.objects.get().name == "Alice"
    assert len(mail.outbox) == 2


def test_a_confirmed_address_gets_no_email_and_no_change(committed):
    alice = make_subscriber("alice@example.com", name="Alice")
    with committed():
        again = request_subscription("alice@example.com", "Someone else")
    assert again.pk == alice.pk
    assert again.status == SubscriberStatus.CONFIRMED
    assert mail.outbox == []


def test_coming_back_after_unsubscribing_needs_a_fresh_confirmation(committed):
    make_subscriber("alice@example.com", status=SubscriberStatus.UNSUBSCRIBED)
    with committed():
        subscriber = request_subscription("alice@example.com")
    assert subscriber.status == SubscriberStatus.PENDING
    assert len(mail.outbox) == 1


def test_confirming_with_the_emailed_token_confirms(committed):
    with committed():
        request_subscription("alice@example.com")
    with time_machine.travel(NOW, tick=False):
        subscriber = confirm_subscription(confirm_token_in(mail.outbox[0]))
    assert subscriber.status == SubscriberStatus.CONFIRMED
    assert subscriber.confirmed_at == NOW


def test_confirming_twice_is_harmless(committed):
    with committed():
        request_subscription("alice@example.com")
    token = confirm_token_in(mail.outbox[0])
    first = confirm_subscription(token)
    second = confirm_subscription(token)
    assert first.confirmed_at == second.confirmed_at
    assert second.status == SubscriberStatus.CONFIRMED


def test_a_confirm_link_expires_after_a_week(committed):
    with time_machine.travel(NOW, tick=False), committed():
        request_subscription("alice@example.com")
    token = confirm_token_in(mail.outbox[0])
    with time_machine.travel(NOW + tokens.CONFIRM_MAX_AGE + dt.timedelta(minutes=1)):
        assert confirm_subscription(token) is None
    assert Subscriber.objects.get().status == SubscriberStatus.PENDING


def test_altered_or_foreign_tokens_confirm_nobody():
    alice = make_subscriber("alice@example.com", status=SubscriberStatus.PENDING)
    token = tokens.make_token(tokens.CONFIRM, alice.pk)
    assert confirm_subscription(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert confirm_subscription("garbage") is None
    # An unsubscribe token is signed for another purpose.
    assert confirm_subscription(tokens.make_token(tokens.UNSUBSCRIBE, alice.pk)) is None
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.PENDING


def test_an_old_confirm_link_does_not_resubscribe_someone_who_left():
    alice = make_subscriber("alice@example.com", status=SubscriberStatus.UNSUBSCRIBED)
    assert confirm_subscription(tokens.make_token(tokens.CONFIRM, alice.pk)) is None


def test_unsubscribing_takes_effect_at_once_and_only_the_first_time_says_goodbye(committed):
    alice = make_subscriber("alice@example.com")
    token = tokens.make_token(tokens.UNSUBSCRIBE, alice.pk)
    with time_machine.travel(NOW, tick=False), committed():
        subscriber = unsubscribe(token, notify=True)
    assert (subscriber.status, subscriber.unsubscribed_at) == (SubscriberStatus.UNSUBSCRIBED, NOW)
    with committed():
        assert unsubscribe(token, notify=True).status == SubscriberStatus.UNSUBSCRIBED
    assert [m.subject for m in mail.outbox] == ["You have left Daybrief"]


def test_one_click_unsubscribe_sends_no_email(committed):
    alice = make_subscriber("alice@example.com")
    with committed():
        unsubscribe(tokens.make_token(tokens.UNSUBSCRIBE, alice.pk))
    assert mail.outbox == []


def test_a_forged_unsubscribe_token_unsubscribes_nobody():
    alice = make_subscriber("alice@example.com")
    mallory = make_subscriber("mallory@example.com")
    # Mallory's own valid token, edited to name Alice but keeping Mallory's signature.
    alice_payload = tokens.make_token(tokens.UNSUBSCRIBE, alice.pk).split(":")[0]
    _, timestamp, signature = tokens.make_token(tokens.UNSUBSCRIBE, mallory.pk).split(":")
    forged = f"{alice_payload}:{timestamp}:{signature}"
    assert unsubscribe(forged) is None
    assert unsubscribe(tokens.make_token(tokens.CONFIRM, alice.pk)) is None
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.CONFIRMED


def test_import_adds_new_addresses_as_pending_without_email(committed):
    rows = [ImportRow(2, "a@example.com", "A"), ImportRow(3, "B@Example.com", "")]
    with committed():
        result = import_subscribers(rows, confirmed=False)
    assert (result.created, result.invalid) == (2, [])
    assert dict(Subscriber.objects.values_list("email", "status")) == {
        "a@example.com": SubscriberStatus.PENDING,
        "b@example.com": SubscriberStatus.PENDING,
    }
    assert mail.outbox == []


def test_import_with_confirmed_confirms_new_and_pending_but_never_the_departed():
    make_subscriber("pending@example.com", status=SubscriberStatus.PENDING)
    make_subscriber("gone@example.com", status=SubscriberStatus.UNSUBSCRIBED)
    rows = [
        ImportRow(2, "new@example.com"),
        ImportRow(3, "pending@example.com"),
        ImportRow(4, "gone@example.com"),
    ]
    result = import_subscribers(rows, confirmed=True)
    assert (result.created, result.confirmed, result.unchanged) == (1, 1, 1)
    statuses = dict(Subscriber.objects.values_list("email", "status"))
    assert statuses["new@example.com"] == SubscriberStatus.CONFIRMED
    assert statuses["pending@example.com"] == SubscriberStatus.CONFIRMED
    assert statuses["gone@example.com"] == SubscriberStatus.UNSUBSCRIBED


def test_import_reports_invalid_and_duplicate_rows_by_line(monkeypatch):
    monkeypatch.setattr(subscriptions, "IMPORT_CHUNK", 1)
    rows = [
        ImportRow(2, "a@example.com"),
        ImportRow(3, "not an address"),
        ImportRow(4, "A@EXAMPLE.COM"),
        ImportRow(5, ""),
        ImportRow(6, "b@example.com"),
    ]
    result = import_subscribers(rows, confirmed=False)
    assert [line for line, _ in result.invalid] == [3, 4, 5]
    assert "duplicate of line 2" in result.invalid[1][1]
    assert result.created == 2

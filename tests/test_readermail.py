"""Confirmation and goodbye emails: queued on commit, sent by the worker, retried while the
mail server fails, sent at once when the queue is down, and never sent twice."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.test import TestCase
from django_q.models import Success

from newsletter import readermail, suppression, tokens
from newsletter.models import (
    ReaderEmail,
    ReaderEmailKind,
    ReaderEmailStatus,
    SubscriberStatus,
    SuppressionReason,
)
from newsletter.readermail import send_due_reader_emails, send_reader_email
from newsletter.subscriptions import request_subscription, unsubscribe
from tests.factories import make_subscriber
from tests.smtpserver import running_smtp_server, use_smtp_server

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
TRY_LATER = "451 4.3.0 Mail server busy, try again later"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def committed():
    """Run what the action queued on commit, as a real request would."""
    return TestCase.captureOnCommitCallbacks(execute=True)


@pytest.fixture
def queued(monkeypatch) -> list[tuple[object, ...]]:
    """The tasks queued, left for the test to run: a broker with no worker yet."""
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(readermail, "async_task", lambda *args, **kwargs: calls.append(args))
    return calls


@pytest.fixture
def broker_down(monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(readermail, "async_task", refuse)


@pytest.fixture
def smtp(settings):
    with running_smtp_server() as server:
        use_smtp_server(settings, server)
        yield server


def later(minutes: float) -> time_machine.travel:
    return time_machine.travel(NOW + dt.timedelta(minutes=minutes), tick=False)


def test_a_signup_queues_its_confirmation_and_the_worker_sends_it(queued):
    with committed():
        subscriber = request_subscription("alice@example.com")
    # The request itself sends nothing: it only queued the task.
    assert mail.outbox == []
    email = ReaderEmail.objects.get()
    assert (email.kind, email.status) == (ReaderEmailKind.CONFIRM, ReaderEmailStatus.PENDING)
    assert queued == [(readermail.TASK, email.pk)]

    assert send_reader_email(email.pk) == ReaderEmailStatus.SENT
    [message] = mail.outbox
    link = re.search(r"/confirm/([^/\s]+)/", message.body)[1]
    assert tokens.read_token(tokens.CONFIRM, link) == subscriber.pk
    email.refresh_from_db()
    assert (email.status, email.attempts, email.sent_at) == (ReaderEmailStatus.SENT, 1, NOW)


def test_the_confirmation_goes_through_django_q():
    # Tests run django-q2 in sync mode: the queued task runs at once, through its worker.
    with committed():
        request_subscription("alice@example.com")
    assert len(mail.outbox) == 1
    assert Success.objects.get().func == readermail.TASK


def test_the_goodbye_email_is_queued_too(queued):
    alice = make_subscriber("alice@example.com")
    with committed():
        unsubscribe(tokens.make_token(tokens.UNSUBSCRIBE, alice.pk), notify=True)
    assert mail.outbox == []
    [(_, email_id)] = queued
    assert send_reader_email(email_id) == ReaderEmailStatus.SENT
    assert [m.subject for m in mail.outbox] == ["You have left Daybrief"]


def test_a_failing_mail_server_is_retried_and_the_email_arrives_once_it_is_back(smtp):
    smtp.handler.reject["alice@example.com"] = TRY_LATER
    with committed():
        request_subscription("alice@example.com")
    email = ReaderEmail.objects.get()
    assert (email.status, email.attempts) == (ReaderEmailStatus.PENDING, 1)
    assert email.send_after == NOW + readermail.RETRY_BASE
    assert "451" in email.error

    # Still refused a minute later: the next wait doubles.
    with later(1):
        assert send_due_reader_emails() == 0
    email.refresh_from_db()
    assert email.send_after == NOW + dt.timedelta(minutes=3)

    del smtp.handler.reject["alice@example.com"]
    with later(2):
        # Not due yet.
        assert send_due_reader_emails() == 0
    with later(3):
        assert send_due_reader_emails() == 1
        assert send_due_reader_emails() == 0
    [received] = smtp.messages
    assert received.rcpt_tos == ["alice@example.com"]
    assert "/confirm/" in received.part("plain")
    email.refresh_from_db()
    assert (email.status, email.attempts, email.error) == (ReaderEmailStatus.SENT, 3, "")


def test_the_wait_between_retries_stops_growing_at_half_an_hour(smtp):
    smtp.handler.reject["alice@example.com"] = TRY_LATER
    alice = make_subscriber("alice@example.com", status=SubscriberStatus.PENDING)
    email = ReaderEmail.objects.create(subscriber=alice, kind=ReaderEmailKind.CONFIRM, attempts=9)
    send_reader_email(email.pk)
    email.refresh_from_db()
    assert email.send_after == NOW + readermail.RETRY_MAX


def test_a_permanent_refusal_fails_the_email_and_is_not_retried(smtp):
    smtp.handler.reject["nobody@example.com"] = "550 5.1.1 No such mailbox"
    with committed():
        request_subscription("nobody@example.com")
    with later(60):
        assert send_due_reader_emails() == 0
    email = ReaderEmail.objects.get()
    assert (email.status, email.attempts) == (ReaderEmailStatus.FAILED, 1)
    assert "5.1.1" in email.error


def test_a_day_of_failures_is_enough(smtp):
    smtp.handler.reject["alice@example.com"] = TRY_LATER
    alice = make_subscriber("alice@example.com", status=SubscriberStatus.PENDING)
    email = ReaderEmail.objects.create(
        subscriber=alice,
        kind=ReaderEmailKind.CONFIRM,
        created_at=NOW - readermail.GIVE_UP_AFTER + dt.timedelta(minutes=1),
        attempts=40,
    )
    assert send_reader_email(email.pk) == ReaderEmailStatus.FAILED


def test_when_the_queue_is_down_the_confirmation_is_sent_at_once(client, broker_down):
    with committed():
        response = client.post("/subscribe/", {"email": "alice@example.com"})
    # The page answers as always.
    assert (response.status_code, response["Location"]) == (302, "/subscribe/check-your-inbox/")
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert ReaderEmail.objects.get().status == ReaderEmailStatus.SENT


def test_with_the_queue_and_the_mail_server_down_the_retry_still_sends_it(smtp, broker_down):
    smtp.handler.reject["alice@example.com"] = TRY_LATER
    with committed():
        request_subscription("alice@example.com")
    assert ReaderEmail.objects.get().status == ReaderEmailStatus.PENDING
    del smtp.handler.reject["alice@example.com"]
    with later(1):
        assert send_due_reader_emails() == 1
    assert len(smtp.messages) == 1


def test_a_task_that_runs_twice_sends_once(queued):
    with committed():
        request_subscription("alice@example.com")
    [(_, email_id)] = queued
    assert send_reader_email(email_id) == ReaderEmailStatus.SENT
    assert send_reader_email(email_id) is None
    assert send_due_reader_emails() == 0
    assert len(mail.outbox) == 1


def test_an_email_someone_else_is_sending_is_left_to_them(queued):
    with committed():
        request_subscription("alice@example.com")
    # Another worker (or the minutely retry) claimed it first.
    ReaderEmail.objects.update(status=ReaderEmailStatus.SENDING)
    [(_, email_id)] = queued
    assert send_reader_email(email_id) is None
    assert mail.outbox == []


def test_each_signup_is_its_own_email(queued):
    with committed():
        request_subscription("alice@example.com")
    with committed():
        request_subscription("alice@example.com")
    for _, email_id in queued:
        send_reader_email(email_id)
    assert len(mail.outbox) == 2


def test_a_reader_who_confirmed_meanwhile_gets_no_late_link(queued):
    with committed():
        subscriber = request_subscription("alice@example.com")
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.save()
    [(_, email_id)] = queued
    assert send_reader_email(email_id) == ReaderEmailStatus.SKIPPED
    assert mail.outbox == []


@pytest.mark.parametrize("reason", [SuppressionReason.HARD_BOUNCE, SuppressionReason.COMPLAINT])
def test_an_address_that_bounced_or_complained_gets_no_confirmation(queued, reason):
    suppression.suppress("alice@example.com", reason)
    with committed():
        request_subscription("alice@example.com")
    [(_, email_id)] = queued
    assert send_reader_email(email_id) == ReaderEmailStatus.SKIPPED
    assert mail.outbox == []
    assert ReaderEmail.objects.get().error == f"suppressed: {reason.label}"


def test_an_address_that_only_unsubscribed_gets_its_confirmation(queued):
    suppression.suppress("alice@example.com", SuppressionReason.UNSUBSCRIBED)
    with committed():
        request_subscription("alice@example.com")
    [(_, email_id)] = queued
    assert send_reader_email(email_id) == ReaderEmailStatus.SENT


def test_an_email_whose_reader_was_erased_is_gone_with_them(queued):
    with committed():
        subscriber = request_subscription("alice@example.com")
    subscriber.delete()
    [(_, email_id)] = queued
    assert send_reader_email(email_id) is None
    assert not ReaderEmail.objects.exists()


def test_a_confirmed_address_queues_nothing(queued):
    make_subscriber("alice@example.com")
    with committed():
        request_subscription("alice@example.com")
    assert queued == []
    assert not ReaderEmail.objects.exists()

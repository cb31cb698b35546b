import datetime as dt
import smtplib
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from newsletter import emails, leases, ledger, sending, suppression, tokens, transports
from newsletter.digests import build_digest
from newsletter.leases import claim_batch
from newsletter.models import (
    Delivery,
    DeliveryStatus,
    DigestStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from newsletter.sending import send_digest
from tests.factories import make_article, make_subscriber, make_topic
from tests.smtpserver import CollectingHandler, running_smtp_server, use_smtp_server

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)
DAY = NOW.date()

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


class FlakyBackend(LocmemBackend):
    """locmem, except that chosen recipients raise the given exception."""

    failures: dict[str, Exception] = {}

    def send_messages(self, messages):
        for message in messages:
            if message.to[0] in self.failures:
                raise self.failures[message.to[0]]
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = "tests.test_sending.FlakyBackend"
    FlakyBackend.failures = {}
    yield FlakyBackend.failures
    FlakyBackend.failures = {}


def make_story(headline: str = "Rates cut", score: float = 9):
    article = make_article(title=headline)
    return make_topic(
        [article], headline=headline, score=score, article_count=1, lead_article=article
    )


def built_digest(*addresses: str):
    make_story()
    for address in addresses:
        make_subscriber(address)
    return build_digest(DAY)


def delivery_to(address: str) -> Delivery:
    return Delivery.objects.get(subscriber__email=address)


def test_sending_delivers_one_message_per_recipient_and_records_it():
    digest = built_digest("alice@example.com", "bob@example.com")
    result = send_digest(digest.pk)
    assert (result.sent, result.failed) == (2, 0)
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    alice = delivery_to("alice@example.com")
    assert alice.status == DeliveryStatus.SENT
    assert alice.sent_at == NOW
    assert alice.attempts == 1
    to_alice = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert alice.message_id == to_alice.extra_headers["Message-ID"]
    digest.refresh_from_db()
    assert (digest.status, digest.sent_at) == (DigestStatus.SENT, NOW)


def test_sending_through_an_anymail_backend_records_the_providers_message_ids(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    digest = built_digest("alice@example.com", "bob@example.com")
    assert send_digest(digest.pk).sent == 2
    for message in mail.outbox:
        delivery = delivery_to(message.to[0])
        assert delivery.status == DeliveryStatus.SENT
        # The provider's id (anymail's test backend numbers its outbox), which its
        # bounce and complaint webhooks will quote, not our Message-ID header.
        assert delivery.message_id == str(message.anymail_status.message_id)
        assert delivery.message_id != message.extra_headers["Message-ID"]
    assert sorted(delivery_to(a).message_id for a in ("alice@example.com", "bob@example.com")) == [
        "0",
        "1",
    ]


def test_sending_twice_sends_each_recipient_exactly_one_message():
    digest = built_digest("alice@example.com", "bob@example.com")
    send_digest(digest.pk)
    second = send_digest(digest.pk)
    assert (second.sent, second.failed) == (0, 0)
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]


def test_the_digest_is_rendered_once_per_send_not_per_recipient():
    digest = built_digest("a@example.com", "b@example.com", "c@example.com")
    with mock.patch.object(emails, "compile_mjml", wraps=emails.compile_mjml) as compile_mjml:
        send_digest(digest.pk)
    assert compile_mjml.call_count == 1
    assert len(mail.outbox) == 3


def test_each_batch_reuses_one_connection(settings):
    digest = built_digest("a@example.com", "b@example.com", "c@example.com")
    settings.DAYBRIEF_SEND_BATCH = 2
    with mock.patch.object(transports.mail, "get_connection", wraps=mail.get_connection) as connect:
        send_digest(digest.pk)
    assert connect.call_count == 2
    assert len(mail.outbox) == 3


def test_a_failing_recipient_is_recorded_and_does_not_stop_the_others(flaky):
    digest = built_digest("alice@example.com", "bad@example.com", "carol@example.com")
    flaky["bad@example.com"] = smtplib.SMTPRecipientsRefused(
        {"bad@example.com": (550, b"5.1.1 No such user")}
    )
    result = send_digest(digest.pk)
    assert (result.sent, result.failed) == (2, 1)
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "carol@example.com"]
    bad = delivery_to("bad@example.com")
    assert bad.status == DeliveryStatus.FAILED
    assert "No such user" in bad.error
    digest.refresh_from_db()
    assert digest.status == DigestStatus.SENT


def test_a_temporary_smtp_error_puts_the_delivery_back_for_the_next_run(flaky):
    digest = built_digest("alice@example.com", "busy@example.com")
    flaky["busy@example.com"] = smtplib.SMTPDataError(451, b"4.3.0 Try again later")
    result = send_digest(digest.pk)
    assert (result.sent, result.failed, result.deferred) == (1, 0, 1)
    busy = delivery_to("busy@example.com")
    assert (busy.status, busy.attempts) == (DeliveryStatus.PENDING, 1)
    digest.refresh_from_db()
    # Not finished while someone is still waiting for it.
    assert digest.status == DigestStatus.SENDING

    flaky.clear()
    # Not before its backoff has passed.
    assert send_digest(digest.pk).sent == 0
    with time_machine.travel(NOW + ledger.RETRY_BASE, tick=False):
        assert send_digest(digest.pk).sent == 1
    assert delivery_to("busy@example.com").status == DeliveryStatus.SENT
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "busy@example.com"]


def test_temporary_errors_give_up_after_the_last_attempt(flaky):
    digest = built_digest("busy@example.com")
    flaky["busy@example.com"] = ConnectionResetError("connection reset by peer")
    Delivery.objects.update(attempts=ledger.MAX_ATTEMPTS - 1)
    assert send_digest(digest.pk).failed == 1
    busy = delivery_to("busy@example.com")
    assert (busy.status, busy.attempts) == (DeliveryStatus.FAILED, ledger.MAX_ATTEMPTS)


def test_deliveries_leased_by_another_live_worker_are_not_sent_again():
    digest = built_digest("alice@example.com", "bob@example.com")
    # Another worker (this process is alive, so its lease holds) took bob first.
    Delivery.objects.filter(subscriber__email="bob@example.com").update(
        status=DeliveryStatus.SENDING,
        lease_owner=f"{leases.HOST}:1",
        lease_until=NOW + dt.timedelta(minutes=5),
    )
    result = send_digest(digest.pk)
    assert result.sent == 1
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert delivery_to("bob@example.com").status == DeliveryStatus.SENDING
    digest.refresh_from_db()
    assert digest.status == DigestStatus.SENDING


def test_a_batch_is_claimed_once():
    digest = built_digest("alice@example.com", "bob@example.com")
    first = claim_batch(digest.pk, 10, NOW)
    assert len(first) == 2
    assert claim_batch(digest.pk, 10, NOW) == []
    alice = delivery_to("alice@example.com")
    assert alice.status == DeliveryStatus.SENDING
    assert alice.lease_owner == leases.lease_owner()


def test_someone_who_unsubscribed_after_the_build_is_skipped():
    digest = built_digest("alice@example.com", "gone@example.com")
    Subscriber.objects.filter(email="gone@example.com").update(status=SubscriberStatus.UNSUBSCRIBED)
    result = send_digest(digest.pk)
    assert (result.sent, result.skipped) == (1, 1)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert delivery_to("gone@example.com").status == DeliveryStatus.SKIPPED


def test_a_day_without_stories_emails_nobody():
    make_subscriber("alice@example.com")
    digest = build_digest(DAY)
    result = send_digest(digest.pk)
    assert (result.sent, result.failed) == (0, 0)
    assert mail.outbox == []


def test_a_paused_digest_sends_nothing():
    digest = built_digest("alice@example.com")
    digest.status = DigestStatus.PAUSED
    digest.save()
    send_digest(digest.pk)
    assert mail.outbox == []
    assert delivery_to("alice@example.com").status == DeliveryStatus.PENDING


def test_smtp_reply_codes_decide_between_retry_and_failure():
    assert ledger.is_transient(smtplib.SMTPDataError(451, b"later"))
    assert ledger.is_transient(smtplib.SMTPServerDisconnected("gone"))
    assert ledger.is_transient(TimeoutError())
    assert not ledger.is_transient(smtplib.SMTPDataError(554, b"spam"))
    assert not ledger.is_transient(smtplib.SMTPRecipientsRefused({"x@y": (550, b"no")}))
    assert not ledger.is_transient(ValueError("bad header"))


def test_digest_arrives_intact_through_a_real_smtp_server(settings):
    settings.UNSUBSCRIBE_MAILTO = "leave@daybrief.example"
    digest = built_digest("alice@example.com", "bounce@example.com", "later@example.com")
    reject = {
        "bounce@example.com": "550 5.1.1 No such user",
        "later@example.com": "451 4.7.1 Greylisted, try again",
    }
    with running_smtp_server(reject=reject) as server:
        use_smtp_server(settings, server)
        result = send_digest(digest.pk)

    assert (result.sent, result.failed, result.deferred) == (1, 1, 1)
    [received] = server.messages
    assert received.rcpt_tos == ["alice@example.com"]
    message = received.message
    assert message["Subject"] == "Daybrief for Thu 26 Nov: Rates cut"
    assert message.get_content_type() == "multipart/alternative"

    unsubscribe, mailto = (part.strip(" <>") for part in message["List-Unsubscribe"].split(","))
    token = unsubscribe.rstrip("/").rsplit("/", 1)[1]
    assert unsubscribe.startswith("http://localhost:8000/unsubscribe/")
    alice = delivery_to("alice@example.com")
    assert tokens.read_token(tokens.UNSUBSCRIBE, token) == alice.subscriber_id
    assert mailto.startswith("mailto:leave@daybrief.example?subject=unsubscribe%20")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == alice.message_id

    text, html = received.part("plain"), received.part("html")
    assert "1. Rates cut" in text
    assert f"Unsubscribe with one click: {unsubscribe}" in text
    assert "Rates cut</a>" in html
    assert f'href="{unsubscribe}"' in html

    assert delivery_to("bounce@example.com").status == DeliveryStatus.FAILED
    assert "No such user" in delivery_to("bounce@example.com").error
    assert delivery_to("later@example.com").status == DeliveryStatus.PENDING


def test_an_address_the_server_says_does_not_exist_is_suppressed_as_a_hard_bounce(settings):
    digest = built_digest("alice@example.com", "gone@example.com", "blocked@example.com")
    reject = {
        "gone@example.com": "550 5.1.1 No such user",
        # A refusal of *us* (a blocklist), which says nothing about the reader's address.
        "blocked@example.com": "550 5.7.1 Service unavailable; client host blocked",
    }
    with running_smtp_server(reject=reject) as server:
        use_smtp_server(settings, server)
        assert send_digest(digest.pk).failed == 2
    assert delivery_to("gone@example.com").status == DeliveryStatus.FAILED
    assert suppression.is_suppressed("gone@example.com")
    assert Suppression.objects.get().reason == SuppressionReason.HARD_BOUNCE
    assert not suppression.is_suppressed("blocked@example.com")
    assert not suppression.is_suppressed("alice@example.com")


def test_only_dead_address_refusals_count_as_hard_bounces():
    def refused(code: int, reply: bytes) -> smtplib.SMTPRecipientsRefused:
        return smtplib.SMTPRecipientsRefused({"x@example.com": (code, reply)})

    assert ledger.is_dead_address(refused(550, b"5.1.1 User unknown"))
    assert ledger.is_dead_address(refused(550, b"5.2.1 Account disabled"))
    assert not ledger.is_dead_address(refused(550, b"Requested action not taken"))
    assert not ledger.is_dead_address(refused(451, b"4.1.1 Try later"))
    assert not ledger.is_dead_address(refused(554, b"5.7.1 Relay denied"))
    assert not ledger.is_dead_address(smtplib.SMTPDataError(550, b"5.1.1 User unknown"))


def test_with_pipelining_each_envelope_rides_with_the_previous_dot(settings):
    settings.DAYBRIEF_SEND_CONNECTIONS = 1
    digest = built_digest(*(f"{name}@example.com" for name in ("a", "bounce", "b", "later", "c")))
    reject = {"bounce@example.com": "550 5.1.1 No such user", "later@example.com": "451 Later"}
    packets: list[bytes] = []
    real_send = smtplib.SMTP.send

    def send(client, data):
        packets.append(data if isinstance(data, bytes) else data.encode())
        return real_send(client, data)

    with (
        running_smtp_server(reject=reject, pipelining=True) as server,
        mock.patch.object(smtplib.SMTP, "send", send),
    ):
        use_smtp_server(settings, server)
        result = send_digest(digest.pk)
    assert (result.sent, result.failed, result.deferred) == (3, 1, 1)
    assert sorted(m.rcpt_tos[0] for m in server.messages) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert [m.message["To"] for m in server.messages] == [m.rcpt_tos[0] for m in server.messages]
    # a's final dot carries bounce's envelope and b's carries later's; after a refused
    # envelope the next one goes on its own, and the last dot carries none.
    riding = [p for p in packets if p.startswith(b".\r\nMAIL FROM:")]
    assert [p.split(b"RCPT TO:<")[1].split(b">")[0] for p in riding] == [
        b"bounce@example.com",
        b"later@example.com",
    ]
    assert delivery_to("bounce@example.com").status == DeliveryStatus.FAILED
    assert delivery_to("later@example.com").status == DeliveryStatus.PENDING


def test_several_connections_record_a_round_in_one_commit_before_any_final_dot(
    settings, monkeypatch
):
    settings.DAYBRIEF_SEND_CONNECTIONS = 2
    readers = [f"r{n}@example.com" for n in range(5)]
    digest = built_digest(*readers)
    events: list[str] = []
    real_send, real_hand_over = smtplib.SMTP.send, ledger.hand_over

    def send(client, data):
        if isinstance(data, bytes) and data.startswith(b".\r\n"):
            events.append("dot")
        return real_send(client, data)

    def hand_over(messages, answered):
        events.append(f"record {len(messages)}")
        return real_hand_over(messages, answered)

    monkeypatch.setattr(ledger, "hand_over", hand_over)
    with (
        running_smtp_server(pipelining=True) as server,
        mock.patch.object(smtplib.SMTP, "send", send),
    ):
        use_smtp_server(settings, server)
        assert send_digest(digest.pk).sent == 5
    assert sorted(m.rcpt_tos[0] for m in server.messages) == readers
    # Rounds of two (then the last reader alone): each round's rows are committed as
    # sent before either of its dots leaves.
    assert events == ["record 2", "dot", "dot"] * 2 + ["record 1", "dot"]
    assert len({m.data for m in server.messages}) == 5
    assert not Delivery.objects.exclude(lease_owner="").exists()


def test_a_database_error_before_the_dots_leaves_no_message_at_the_server(settings, monkeypatch):
    digest = built_digest("a@example.com", "b@example.com")

    def database_gone(messages, answered):
        raise OperationalError("the database went away")

    monkeypatch.setattr(ledger, "hand_over", database_gone)
    with (
        running_smtp_server(pipelining=True) as server,
        mock.patch.object(smtplib.SMTP, "quit", autospec=True) as quit,
    ):
        use_smtp_server(settings, server)
        with pytest.raises(OperationalError):
            send_digest(digest.pk)
    # Both bodies were written; their connections were dropped, neither finished nor
    # sent QUIT (which the server would read as more body, then wait for its end).
    assert server.messages == []
    assert quit.call_count == 0
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENDING}


class HangsUpAfterTheDot(CollectingHandler):
    """Takes one reader's message, then drops the connection without answering: a crash
    or a network cut at the worst moment."""

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        if envelope.rcpt_tos == ["cut@example.com"]:
            server.transport.close()
        return answer


def test_a_message_whose_answer_never_comes_is_uncertain_and_not_sent_again(settings):
    digest = built_digest("a@example.com", "cut@example.com", "z@example.com")
    with running_smtp_server(handler=HangsUpAfterTheDot(pipelining=True)) as server:
        use_smtp_server(settings, server)
        first, second = send_digest(digest.pk), send_digest(digest.pk)
    assert (first.sent, first.deferred, second.sent) == (2, 0, 0)
    # The server did take it: sending it again would have been a duplicate.
    assert sorted(m.rcpt_tos[0] for m in server.messages) == [
        "a@example.com",
        "cut@example.com",
        "z@example.com",
    ]
    cut = delivery_to("cut@example.com")
    assert (cut.status, cut.lease_owner) == (DeliveryStatus.UNCERTAIN, "")
    assert "never answered" in cut.error


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
def test_on_postgresql_a_batch_commits_without_waiting_for_the_disk_then_resets(
    settings, monkeypatch
):
    digest = built_digest("alice@example.com", "bob@example.com")
    seen: list[str] = []

    def show() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    def watched(*args):
        seen.append(show())
        return real_hand_over(*args)

    real_hand_over = ledger.hand_over
    monkeypatch.setattr(ledger, "hand_over", watched)
    with running_smtp_server() as server:
        use_smtp_server(settings, server)
        assert send_digest(digest.pk).sent == 2
    # Both readers go in one round, recorded by one statement.
    assert seen == ["off"]
    assert show() == "on"
    settings.DAYBRIEF_SEND_SYNC_COMMIT = True
    seen.clear()
    Delivery.objects.update(status=DeliveryStatus.PENDING)
    digest.status = DigestStatus.SENDING
    digest.save()
    with running_smtp_server() as server:
        use_smtp_server(settings, server)
        assert send_digest(digest.pk).sent == 2
    assert seen == ["on"]


def sending_queries(settings, readers: int) -> list[str]:
    """The SQL that sending a fresh digest to `readers` readers runs over SMTP."""
    Delivery.objects.all().delete()
    Subscriber.objects.all().delete()
    digest = built_digest(*(f"r{n}@example.com" for n in range(readers)))
    with running_smtp_server() as server, CaptureQueriesContext(connection) as queries:
        use_smtp_server(settings, server)
        assert send_digest(digest.pk).sent == readers
    digest.delete()
    return [query["sql"] for query in queries.captured_queries]


def test_each_message_costs_the_same_few_queries_and_no_reader_is_loaded_alone(settings):
    settings.DAYBRIEF_SEND_CONNECTIONS = 3
    three, six = sending_queries(settings, 3), sending_queries(settings, 6)
    # One more round of three, one transaction ending the last round's leases and
    # recording the three: a single statement on PostgreSQL; on SQLite two, in a
    # savepoint of the test's own transaction (and its release).
    assert len(six) - len(three) == (1 if connection.vendor == "postgresql" else 4)
    # Readers are read a batch at a time: nothing is selected per message.
    selects = [sum(sql.startswith("SELECT") for sql in run) for run in (three, six)]
    assert selects[0] == selects[1]


def test_a_suppressed_address_gets_nothing_and_the_ledger_says_why():
    digest = built_digest("alice@example.com", "complained@example.com")
    suppression.suppress(" Complained@Example.com", SuppressionReason.COMPLAINT)
    result = send_digest(digest.pk)
    assert (result.sent, result.suppressed) == (1, 1)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert delivery_to("complained@example.com").status == DeliveryStatus.SUPPRESSED


def test_a_reader_who_paused_is_skipped():
    digest = built_digest("alice@example.com", "away@example.com")
    Subscriber.objects.filter(email="away@example.com").update(paused=True)
    assert send_digest(digest.pk).skipped == 1
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_each_reader_gets_the_digest_at_their_local_morning_hour():
    make_story()
    make_subscriber("now@example.com")
    make_subscriber("tokyo@example.com", time_zone="Asia/Tokyo", delivery_hour=6)
    make_subscriber("ny@example.com", time_zone="America/New_York", delivery_hour=7)
    digest = build_digest(DAY)
    # 07:00 UTC is 16:00 in Tokyo (their morning has passed: at once) and 02:00 in New York.
    assert send_digest(digest.pk).sent == 2
    ny = delivery_to("ny@example.com")
    assert ny.send_after == dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    assert ny.status == DeliveryStatus.PENDING
    with time_machine.travel(ny.send_after, tick=False):
        assert sending.send_due_digests() == {digest.pk: 1}
    assert sorted(m.to[0] for m in mail.outbox) == [
        "now@example.com",
        "ny@example.com",
        "tokyo@example.com",
    ]


def test_a_row_whose_lease_was_taken_over_is_not_sent(monkeypatch):
    digest = built_digest("alice@example.com")

    def lease_lost(messages: list[tuple[int, str]], answered: list[int]) -> set[int]:
        # Someone else took the rows over just before our hand-over.
        Delivery.objects.filter(pk__in=[pk for pk, _ in messages]).update(lease_owner="elsewhere:1")
        return real_hand_over(messages, answered)

    real_hand_over = ledger.hand_over
    monkeypatch.setattr(ledger, "hand_over", lease_lost)
    assert send_digest(digest.pk).sent == 0
    assert mail.outbox == []


def test_throttling_waits_between_messages_to_one_domain(settings, monkeypatch):
    settings.DAYBRIEF_DOMAIN_RATES = ["example.com=4"]
    slept: list[float] = []
    monkeypatch.setattr(transports, "sleep", slept.append)
    digest = built_digest("a@example.com", "b@example.com", "c@example.com")
    assert send_digest(digest.pk).sent == 3
    assert slept == [pytest.approx(0.25), pytest.approx(0.5)]

"""Sending through an email provider's API: anymail's real Postmark backend talking HTTP
to a local server (tests/espserver.py), so every error comes out of requests and anymail
exactly as in production."""

import datetime as dt

import pytest
import time_machine
from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailUnsupportedFeature,
)

from newsletter import esp, suppression
from newsletter.digests import build_digest
from newsletter.ledger import RETRY_BASE
from newsletter.models import Delivery, DeliveryStatus, DigestStatus
from newsletter.sending import send_digest
from tests.espserver import EspServer, use_esp_server
from tests.factories import make_article, make_subscriber, make_topic

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def server(settings):
    with EspServer() as server:
        use_esp_server(settings, server)
        yield server


def built_digest(*addresses: str):
    article = make_article(title="Rates cut")
    make_topic([article], headline="Rates cut", score=9, article_count=1, lead_article=article)
    for address in addresses:
        make_subscriber(address)
    return build_digest(NOW.date())


def delivery_to(address: str) -> Delivery:
    return Delivery.objects.get(subscriber__email=address)


def posts_to(server: EspServer, address: str) -> int:
    return sum(address in post["To"] for post in server.posted)


def test_an_accepted_message_is_sent_with_the_providers_message_id(server):
    digest = built_digest("alice@example.com", "bob@example.com")
    assert send_digest(digest.pk).sent == 2
    for address in ("alice@example.com", "bob@example.com"):
        delivery = delivery_to(address)
        assert (delivery.status, delivery.lease_owner) == (DeliveryStatus.SENT, "")
        assert delivery.message_id == server.message_ids[address]
    assert server.posted[0]["Subject"] == "Daybrief for Thu 26 Nov: Rates cut"
    digest.refresh_from_db()
    assert digest.status == DigestStatus.SENT


INVALID_TO = {"ErrorCode": 300, "Message": "Invalid 'To' address: 'bad@example.com'."}
INVALID_FROM = {"ErrorCode": 300, "Message": "Invalid 'From' address: 'x'."}
BAD_REQUEST = {"ErrorCode": 0, "Message": "Bad or missing request body"}


@pytest.mark.parametrize(
    ("status", "body"), [(422, INVALID_TO), (422, INVALID_FROM), (400, BAD_REQUEST)]
)
def test_a_validation_error_fails_that_delivery_once_without_retry(server, status, body):
    digest = built_digest("alice@example.com", "bad@example.com")
    server.answer("bad@example.com", status, body)
    result = send_digest(digest.pk)
    assert (result.sent, result.failed, result.deferred) == (1, 1, 0)
    bad = delivery_to("bad@example.com")
    assert (bad.status, bad.attempts, bad.lease_owner) == (DeliveryStatus.FAILED, 1, "")
    assert "Invalid" in bad.error or "Bad or missing" in bad.error
    with time_machine.travel(LATER, tick=False):
        assert send_digest(digest.pk).sent == 0
    assert posts_to(server, "bad@example.com") == 1
    digest.refresh_from_db()
    assert digest.status == DigestStatus.SENT


def test_an_address_the_provider_refuses_to_mail_is_suppressed(server):
    digest = built_digest("alice@example.com", "bounced@example.com")
    server.answer(
        "bounced@example.com",
        422,
        {
            "ErrorCode": 406,
            "Message": "You tried to send to a recipient that has been marked as inactive.\n"
            "Found inactive addresses: bounced@example.com.\n"
            "Inactive recipients are ones that have generated a hard bounce or a spam "
            "complaint.",
        },
    )
    result = send_digest(digest.pk)
    assert (result.sent, result.suppressed, result.deferred) == (1, 1, 0)
    bounced = delivery_to("bounced@example.com")
    assert (bounced.status, bounced.lease_owner) == (DeliveryStatus.SUPPRESSED, "")
    assert "rejected" in bounced.error
    # On our own list too, so the next digest does not even ask the provider.
    assert suppression.is_suppressed("bounced@example.com")
    assert not suppression.is_suppressed("alice@example.com")


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_a_busy_or_failing_provider_is_retried_after_a_backoff(server, status):
    digest = built_digest("alice@example.com", "busy@example.com")
    server.answer("busy@example.com", status, {"ErrorCode": 0, "Message": "busy"})
    result = send_digest(digest.pk)
    assert (result.sent, result.failed, result.deferred) == (1, 0, 1)
    busy = delivery_to("busy@example.com")
    assert (busy.status, busy.attempts) == (DeliveryStatus.PENDING, 1)
    assert busy.send_after == NOW + RETRY_BASE
    server.forget("busy@example.com")
    # Not before its time...
    assert send_digest(digest.pk).sent == 0
    with time_machine.travel(busy.send_after, tick=False):
        assert send_digest(digest.pk).sent == 1
    busy = delivery_to("busy@example.com")
    assert (busy.status, busy.message_id) == (
        DeliveryStatus.SENT,
        server.message_ids["busy@example.com"],
    )
    assert server.accepted.count("busy@example.com") == 1


def test_a_provider_that_cannot_be_reached_is_retried(settings):
    with EspServer() as server:
        use_esp_server(settings, server)
    # The server is closed: the port refuses connections, so nothing can have been sent.
    digest = built_digest("alice@example.com")
    assert send_digest(digest.pk).deferred == 1
    alice = delivery_to("alice@example.com")
    assert (alice.status, alice.attempts) == (DeliveryStatus.PENDING, 1)
    assert "ConnectionError" in alice.error or "Connection refused" in alice.error


def hang_up(server: EspServer, address: str) -> None:
    server.hang_up(address)


def hang(server: EspServer, address: str) -> None:
    server.hang(address)


def unreadable_yes(server: EspServer, address: str) -> None:
    # 200 without a MessageID: anymail cannot parse it, but the provider said yes.
    server.answer(address, 200, {"ErrorCode": 0, "Message": "OK"})


def gateway_timeout(server: EspServer, address: str) -> None:
    server.answer(address, 504, {"ErrorCode": 0, "Message": "upstream timed out"})


@pytest.mark.parametrize("misbehave", [hang, hang_up, unreadable_yes, gateway_timeout])
def test_a_lost_answer_leaves_the_delivery_uncertain_and_never_resends_it(server, misbehave):
    digest = built_digest("alice@example.com", "lost@example.com", "zoe@example.com")
    misbehave(server, "lost@example.com")
    result = send_digest(digest.pk)
    assert (result.sent, result.failed, result.deferred) == (2, 0, 0)
    lost = delivery_to("lost@example.com")
    assert (lost.status, lost.lease_owner) == (DeliveryStatus.UNCERTAIN, "")
    assert "may have been accepted" in lost.error
    server.forget("lost@example.com")
    with time_machine.travel(LATER, tick=False):
        assert send_digest(digest.pk).sent == 0
    assert posts_to(server, "lost@example.com") == 1
    # The rest of the batch went on over the same backend.
    assert delivery_to("zoe@example.com").status == DeliveryStatus.SENT


def test_a_rejected_status_despite_ignore_recipient_status_is_suppressed(settings, server):
    settings.ANYMAIL = {**settings.ANYMAIL, "IGNORE_RECIPIENT_STATUS": True}
    digest = built_digest("bounced@example.com")
    server.answer(
        "bounced@example.com",
        422,
        {
            "ErrorCode": 406,
            "Message": "Found inactive addresses: bounced@example.com. Inactive recipients "
            "are ones that have generated a hard bounce.",
        },
    )
    assert send_digest(digest.pk).suppressed == 1
    assert delivery_to("bounced@example.com").status == DeliveryStatus.SUPPRESSED


def test_errors_raised_before_any_request_fail_for_good():
    assert esp.outcome(AnymailInvalidAddress("not an address")) is esp.Outcome.FAILED
    assert esp.outcome(AnymailUnsupportedFeature("amp_html")) is esp.Outcome.FAILED


def test_amazon_ses_errors_are_judged_by_the_status_botocore_reports():
    # The shape of botocore's ClientError.response, which anymail's SES backend passes on.
    def ses_error(status: int) -> AnymailAPIError:
        answer = {"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return AnymailAPIError("SES said no", response=answer)

    assert esp.outcome(ses_error(400)) is esp.Outcome.FAILED
    assert esp.outcome(ses_error(429)) is esp.Outcome.RETRY
    assert esp.outcome(AnymailAPIError("read timeout")) is esp.Outcome.UNKNOWN
    assert esp.unreported_answer(ses_error(400)) == ""


def test_a_misconfigured_api_url_fails_without_a_request(settings, server):
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_API_URL": "http://[not a host/"}
    digest = built_digest("alice@example.com")
    assert send_digest(digest.pk).failed == 1
    assert server.posted == []

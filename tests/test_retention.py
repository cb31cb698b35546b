"""Retention: old articles, deliveries and events go; what a digest needs stays."""

import datetime as dt
import io

import time_machine
from django.core.management import call_command
from django.test import TestCase, override_settings
from django_q.models import Task

from newsletter.models import (
    Delivery,
    DeliveryStatus,
    Digest,
    DigestStatus,
    DigestTopic,
    ReaderEmail,
    ReaderEmailKind,
    ReaderEmailStatus,
    WebhookEvent,
)
from newsletter.retention import prune_old_data, prune_task
from tests.factories import make_article, make_source, make_subscriber, make_topic
from topics.models import Article, Topic

NOW = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=120)
RECENT = NOW - dt.timedelta(days=10)


def article(when: dt.datetime, **fields: object) -> Article:
    return make_article(published_at=when, first_seen_at=when, **fields)


def digest_with(topic: Topic, day: dt.date, status: str) -> Digest:
    digest = Digest.objects.create(date=day, subject="s", status=status)
    DigestTopic.objects.create(digest=digest, topic=topic, position=1)
    return digest


@override_settings(
    DAYBRIEF_RETAIN_ARTICLES_DAYS=90,
    DAYBRIEF_RETAIN_DELIVERIES_DAYS=90,
    DAYBRIEF_RETAIN_EVENTS_DAYS=30,
)
class PruneTests(TestCase):
    def test_old_articles_go_and_recent_ones_stay(self) -> None:
        old, recent = article(OLD), article(RECENT)
        result = prune_old_data(NOW)
        self.assertEqual(result.articles, 1)
        self.assertFalse(Article.objects.filter(pk=old.pk).exists())
        self.assertTrue(Article.objects.filter(pk=recent.pk).exists())

    def test_the_articles_of_a_digest_not_yet_sent_stay(self) -> None:
        source = make_source()
        members = [article(OLD, source=source), article(OLD, source=source)]
        topic = make_topic(members, created_at=OLD, latest_at=OLD)
        digest_with(topic, OLD.date(), DigestStatus.SENDING)
        self.assertEqual(prune_old_data(NOW).articles, 0)
        self.assertEqual(topic.articles.count(), 2)

    def test_a_sent_digest_keeps_its_topics_and_their_lead_articles_for_the_archive(self) -> None:
        source = make_source()
        lead, other = article(OLD, source=source), article(OLD, source=source)
        topic = make_topic([lead, other], created_at=OLD, latest_at=OLD, lead_article=lead)
        digest_with(topic, OLD.date(), DigestStatus.SENT)
        result = prune_old_data(NOW)
        self.assertEqual((result.articles, result.topics), (1, 0))
        topic.refresh_from_db()
        self.assertEqual(topic.lead_article, lead)
        self.assertFalse(Article.objects.filter(pk=other.pk).exists())

    def test_an_old_topic_no_digest_shows_goes_with_its_articles(self) -> None:
        topic = make_topic([article(OLD)], created_at=OLD, latest_at=OLD)
        self.assertEqual(prune_old_data(NOW).topics, 1)
        self.assertFalse(Topic.objects.filter(pk=topic.pk).exists())

    def test_nothing_inside_the_clustering_window_goes_even_with_a_tiny_setting(self) -> None:
        two_days_ago = article(NOW - dt.timedelta(days=2))
        with self.settings(DAYBRIEF_RETAIN_ARTICLES_DAYS=1, DAYBRIEF_CLUSTER_WINDOW_HOURS=72):
            prune_old_data(NOW)
        self.assertTrue(Article.objects.filter(pk=two_days_ago.pk).exists())

    def test_settled_deliveries_of_sent_digests_go(self) -> None:
        topic = make_topic([article(RECENT)], latest_at=RECENT)
        digest = digest_with(topic, OLD.date(), DigestStatus.SENT)
        for status in (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED):
            Delivery.objects.create(
                digest=digest, subscriber=make_subscriber(), status=status, created_at=OLD
            )
        self.assertEqual(prune_old_data(NOW).deliveries, 3)
        self.assertTrue(Digest.objects.filter(pk=digest.pk).exists())

    def test_deliveries_a_sender_may_still_act_on_stay_however_old(self) -> None:
        topic = make_topic([article(RECENT)], latest_at=RECENT)
        sending = digest_with(topic, OLD.date(), DigestStatus.SENDING)
        sent = digest_with(topic, (OLD - dt.timedelta(days=1)).date(), DigestStatus.SENT)
        reader = make_subscriber()
        kept = [
            Delivery.objects.create(digest=sending, subscriber=reader, created_at=OLD),
            Delivery.objects.create(
                digest=sending, subscriber=make_subscriber(), status="sent", created_at=OLD
            ),
            Delivery.objects.create(
                digest=sent, subscriber=reader, status=DeliveryStatus.PENDING, created_at=OLD
            ),
        ]
        self.assertEqual(prune_old_data(NOW).deliveries, 0)
        self.assertEqual(Delivery.objects.filter(pk__in=[d.pk for d in kept]).count(), 3)

    def test_processed_webhook_events_go_and_unprocessed_ones_wait(self) -> None:
        old_day = NOW - dt.timedelta(days=45)
        done = WebhookEvent.objects.create(
            esp="x", event_id="1", event_type="bounced", received_at=old_day, processed_at=old_day
        )
        waiting = WebhookEvent.objects.create(
            esp="x", event_id="2", event_type="bounced", received_at=old_day
        )
        self.assertEqual(prune_old_data(NOW).events, 1)
        self.assertFalse(WebhookEvent.objects.filter(pk=done.pk).exists())
        self.assertTrue(WebhookEvent.objects.filter(pk=waiting.pk).exists())

    def test_settled_reader_emails_go_and_live_ones_wait(self) -> None:
        reader = make_subscriber("reader@example.com")
        old_day = NOW - dt.timedelta(days=45)
        statuses = [ReaderEmailStatus.SENT, ReaderEmailStatus.FAILED, ReaderEmailStatus.PENDING]
        for status in statuses:
            ReaderEmail.objects.create(
                subscriber=reader, kind=ReaderEmailKind.CONFIRM, status=status, created_at=old_day
            )
        ReaderEmail.objects.create(subscriber=reader, kind=ReaderEmailKind.GOODBYE)
        self.assertEqual(prune_old_data(NOW).reader_emails, 2)
        self.assertEqual(
            sorted(ReaderEmail.objects.values_list("status", flat=True)),
            [ReaderEmailStatus.PENDING, ReaderEmailStatus.PENDING],
        )

    def test_old_task_results_go(self) -> None:
        for n, when in enumerate([NOW - dt.timedelta(days=45), NOW - dt.timedelta(days=1)]):
            Task.objects.create(
                id=f"t{n}", name=f"t{n}", func="f", started=when, stopped=when, success=n == 0
            )
        self.assertEqual(prune_old_data(NOW).tasks, 1)
        self.assertEqual(list(Task.objects.values_list("id", flat=True)), ["t1"])

    @override_settings(
        DAYBRIEF_RETAIN_ARTICLES_DAYS=0,
        DAYBRIEF_RETAIN_DELIVERIES_DAYS=0,
        DAYBRIEF_RETAIN_EVENTS_DAYS=0,
    )
    def test_zero_keeps_everything_forever(self) -> None:
        article(OLD)
        result = prune_old_data(NOW)
        self.assertEqual((result.articles, result.deliveries, result.events), (0, 0, 0))
        self.assertEqual(Article.objects.count(), 1)

    def test_a_second_run_finds_nothing_more(self) -> None:
        article(OLD)
        prune_old_data(NOW)
        self.assertEqual(prune_old_data(NOW).articles, 0)

    def test_the_command_and_the_task_prune_the_same_way(self) -> None:
        article(OLD)
        article(OLD)
        with time_machine.travel(NOW, tick=False):
            call_command("prune", stdout=(out := io.StringIO()))
            self.assertIn("Deleted 2 articles", out.getvalue())
            article(OLD)
            self.assertEqual(prune_task()["articles"], 1)

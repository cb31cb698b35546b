"""Readers and digests in the admin: CSV import and export, a reader's deliveries, the digest
preview as one reader gets it, the sending controls and the live counts."""

import datetime as dt

import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from newsletter.models import (
    Delivery,
    DeliveryStatus,
    Digest,
    DigestStatus,
    DigestTopic,
    Subscriber,
    SubscriberStatus,
)
from tests.factories import make_article, make_subscriber, make_topic

NOW = dt.datetime(2026, 4, 21, 6, 0, tzinfo=dt.UTC)
SUBSCRIBERS = reverse("admin:newsletter_subscriber_changelist")


@time_machine.travel(NOW, tick=False)
class NewsletterAdminTestCase(TestCase):
    def setUp(self) -> None:
        self.editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
        self.client.force_login(self.editor)
        self.ada = make_subscriber("ada@example.com", name="Ada")
        article = make_article(title="Lumora buys Brightwave", first_seen_at=NOW)
        self.topic = make_topic(
            [article], headline="Lumora buys Brightwave", dek="A deal.", article_count=1,
            source_count=1, importance=3, lead_article=article,
        )  # fmt: skip


class SubscriberAdminTests(NewsletterAdminTestCase):
    def test_a_csv_import_adds_readers_and_reports_skipped_lines(self) -> None:
        upload = SimpleUploadedFile(
            "list.csv", b"email,name\nbob@example.com,Bob\nnot-an-address,X\nADA@example.com,\n"
        )
        url = reverse("admin:newsletter_subscriber_import")
        response = self.client.post(url, {"file": upload, "confirmed": "on"}, follow=True)
        self.assertContains(response, "3 rows: 1 new, 0 confirmed, 1 already known")
        self.assertContains(response, "Line 3:")
        bob = Subscriber.objects.get(email="bob@example.com")
        self.assertEqual((bob.name, bob.status), ("Bob", SubscriberStatus.CONFIRMED))

    def test_a_file_without_an_email_column_is_refused(self) -> None:
        upload = SimpleUploadedFile("list.csv", b"address\nbob@example.com\n")
        url = reverse("admin:newsletter_subscriber_import")
        response = self.client.post(url, {"file": upload})
        self.assertContains(response, "no &#x27;email&#x27; column")
        self.assertFalse(Subscriber.objects.filter(email="bob@example.com").exists())

    def test_export_writes_the_selected_readers_as_csv(self) -> None:
        make_subscriber("zoe@example.com", status=SubscriberStatus.UNSUBSCRIBED)
        data = {
            "action": "export_csv",
            "_selected_action": list(Subscriber.objects.values_list("pk", flat=True)),
        }
        response = self.client.post(SUBSCRIBERS, data)
        lines = response.content.decode().splitlines()
        self.assertEqual(lines[0], "email,name,status,created_at,confirmed_at,unsubscribed_at")
        self.assertEqual([line.split(",")[:3] for line in lines[1:]], [
            ["ada@example.com", "Ada", "confirmed"], ["zoe@example.com", "", "unsubscribed"],
        ])  # fmt: skip

    def test_a_readers_page_lists_their_deliveries(self) -> None:
        digest = Digest.objects.create(date=NOW.date(), subject="Daybrief")
        Delivery.objects.create(
            digest=digest, subscriber=self.ada, status=DeliveryStatus.FAILED, error="550 gone"
        )
        response = self.client.get(
            reverse("admin:newsletter_subscriber_change", args=[self.ada.pk])
        )
        self.assertContains(response, "550 gone")
        self.assertContains(response, f"?subscriber__id__exact={self.ada.pk}")
        log = self.client.get(
            reverse("admin:newsletter_delivery_changelist")
            + f"?subscriber__id__exact={self.ada.pk}"
        )
        self.assertEqual(len(log.context["cl"].result_list), 1)

    def test_the_status_filter_and_search_narrow_the_list(self) -> None:
        make_subscriber("bob@example.com", status=SubscriberStatus.PENDING)
        response = self.client.get(SUBSCRIBERS + "?status__exact=pending&q=bob")
        self.assertEqual([s.email for s in response.context["cl"].result_list], ["bob@example.com"])


class DigestPreviewTests(NewsletterAdminTestCase):
    def test_todays_digest_is_previewed_without_being_built(self) -> None:
        response = self.client.get(reverse("admin:newsletter_digest_today"))
        self.assertContains(response, "Not built yet")
        self.assertContains(response, "Lumora buys Brightwave")
        # The preview rolled its build back: nothing is frozen, nobody is queued.
        self.assertFalse(Digest.objects.exists())
        self.assertFalse(Delivery.objects.exists())

    def test_the_preview_shows_html_or_text_as_one_reader_gets_it(self) -> None:
        digest = self.build()
        url = reverse("admin:newsletter_digest_preview", args=[digest.pk])
        html = self.client.get(url + "?subscriber=ada@example.com")
        self.assertContains(html, "<strong>To:</strong> ada@example.com")
        self.assertContains(html, "srcdoc=")
        text = self.client.get(url + f"?subscriber={self.ada.pk}&format=text")
        self.assertContains(text, 'class="preview-text"')
        self.assertContains(text, "Lumora buys Brightwave")

    def test_the_preview_follows_a_readers_preferences_or_a_chosen_segment(self) -> None:
        digest = self.build()
        article = make_article(title="Comet seen at noon", first_seen_at=NOW)
        comet = make_topic(
            [article], headline="Comet seen at noon", category="science", article_count=1,
            importance=2, lead_article=article,
        )  # fmt: skip
        DigestTopic.objects.create(digest=digest, topic=comet, position=2)
        make_subscriber("sci@example.com", categories=["science"])
        url = reverse("admin:newsletter_digest_preview", args=[digest.pk]) + "?format=text&"
        for query in ("subscriber=sci@example.com", "segment=science/1/10"):
            with self.subTest(query=query):
                response = self.client.get(url + query)
                self.assertContains(response, "Comet seen at noon")
                self.assertNotContains(response, "Lumora buys Brightwave")
        self.assertContains(self.client.get(url), "Lumora buys Brightwave")

    def build(self) -> Digest:
        digest = Digest.objects.create(date=NOW.date(), subject="Daybrief: Lumora")
        DigestTopic.objects.create(digest=digest, topic=self.topic, position=1)
        Delivery.objects.create(digest=digest, subscriber=self.ada)
        return digest


class DigestControlTests(DigestPreviewTests):
    def control(self, digest: Digest, operation: str) -> object:
        url = reverse("admin:newsletter_digest_control", args=[digest.pk])
        return self.client.post(url, {"operation": operation}, follow=True)

    def test_a_test_goes_to_the_editor_only(self) -> None:
        digest = self.build()
        response = self.control(digest, "test")
        self.assertContains(response, "Sent a test of")
        self.assertEqual([m.to for m in mail.outbox], [["editor@example.com"]])
        self.assertTrue(mail.outbox[0].subject.startswith("[Test]"))
        self.assertEqual(Delivery.objects.get().status, DeliveryStatus.PENDING)

    def test_send_now_sends_and_the_status_fragment_counts_it(self) -> None:
        digest = self.build()
        self.assertContains(self.control(digest, "send"), "Sending Digest for")
        self.assertEqual([m.to for m in mail.outbox], [["ada@example.com"]])
        status = self.client.get(reverse("admin:newsletter_digest_status", args=[digest.pk]))
        self.assertContains(status, "<b>1</b> sent")
        self.assertNotContains(status, 'http-equiv="refresh"')

    def test_pause_resume_and_retry_report_what_happened(self) -> None:
        digest = self.build()
        self.assertContains(self.control(digest, "pause"), "Paused")
        self.assertContains(self.control(digest, "pause"), "It was not being sent.")
        self.assertEqual(Digest.objects.get().status, DigestStatus.PAUSED)
        status = self.client.get(reverse("admin:newsletter_digest_status", args=[digest.pk]))
        self.assertContains(status, "<b>1</b> pending")
        self.assertContains(self.control(digest, "resume"), "Resumed")
        Delivery.objects.update(status=DeliveryStatus.FAILED)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.control(digest, "retry")
        self.assertContains(response, "Retrying 1 failed deliveries")
        self.assertEqual(Delivery.objects.get().status, DeliveryStatus.SENT)
        # Each control is in the digest's admin history.
        self.assertEqual(LogEntry.objects.filter(object_id=str(digest.pk)).count(), 4)

    def test_a_sending_digest_refreshes_its_counts(self) -> None:
        digest = self.build()
        Digest.objects.update(status=DigestStatus.SENDING)
        status = self.client.get(reverse("admin:newsletter_digest_status", args=[digest.pk]))
        self.assertContains(status, 'http-equiv="refresh"')

    def test_the_change_page_offers_the_controls_that_apply(self) -> None:
        digest = self.build()
        page = self.client.get(reverse("admin:newsletter_digest_change", args=[digest.pk]))
        self.assertContains(page, 'value="send"')
        self.assertContains(page, 'value="pause"')
        self.assertNotContains(page, 'value="resume"')
        self.assertContains(page, reverse("admin:newsletter_digest_status", args=[digest.pk]))

    def test_controls_are_post_only(self) -> None:
        digest = self.build()
        url = reverse("admin:newsletter_digest_control", args=[digest.pk])
        self.assertEqual(self.client.get(url + "?operation=send").status_code, 405)

"""Digest timing in the admin, as an editor of the Editor group (not a superuser): the daily
schedule's page, scheduling one day's digest, cancelling it, sending now, the history, and
what someone outside the group may not do."""

import datetime as dt

import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from django_q.models import Schedule

from newsletter import schedules
from newsletter.models import Delivery, Digest, DigestSchedule, DigestStatus, ScheduledSend
from tests.factories import make_article, make_subscriber, make_topic

NOW = dt.datetime(2026, 4, 21, 5, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
SCHEDULE_LIST = reverse("admin:newsletter_digestschedule_changelist")
TODAY_PAGE = reverse("admin:newsletter_digest_today")
PLAN_URL = reverse("admin:newsletter_digest_schedule", args=[TODAY.isoformat()])


@time_machine.travel(NOW, tick=False)
class DigestTimingTestCase(TestCase):
    def setUp(self) -> None:
        self.editor = User.objects.create_user("sam", "sam@example.com", "pw", is_staff=True)
        self.editor.groups.add(Group.objects.get(name="Editor"))
        self.client.force_login(self.editor)
        article = make_article(title="Lumora buys Brightwave", first_seen_at=NOW)
        make_topic([article], headline="Lumora buys Brightwave", article_count=1,
                   importance=3, lead_article=article)  # fmt: skip
        make_subscriber("ada@example.com")
        schedules.register_schedules()

    def history(self, model: type) -> list[str]:
        content_type = ContentType.objects.get_for_model(model)
        entries = LogEntry.objects.filter(content_type=content_type, user=self.editor)
        return [entry.get_change_message() for entry in entries.order_by("action_time", "pk")]

    def plan(self, operation: str, url: str = PLAN_URL, **data: str) -> object:
        return self.client.post(url, {"operation": operation, **data}, follow=True)


class DailyScheduleAdminTests(DigestTimingTestCase):
    def schedule_page(self) -> str:
        return reverse("admin:newsletter_digestschedule_change", args=[1])

    def test_the_list_opens_the_one_schedule_with_the_next_send(self) -> None:
        response = self.client.get(SCHEDULE_LIST)
        self.assertRedirects(response, self.schedule_page())
        page = self.client.get(self.schedule_page())
        self.assertContains(page, 'value="07:00:00"')
        self.assertContains(page, "Tue 21 Apr, 07:00 (daily schedule)")
        self.assertNotContains(page, "_continue")

    def test_a_new_time_moves_the_workers_next_run_and_is_in_the_history(self) -> None:
        response = self.client.post(self.schedule_page(), {"send_time": "09:30"}, follow=True)
        self.assertContains(response, "Saved. Next send: Tue 21 Apr, 09:30 (daily schedule).")
        daily = Schedule.objects.get(name=schedules.DAILY_DIGEST)
        self.assertEqual((daily.next_run, daily.repeats), (NOW.replace(hour=9, minute=30), -1))
        self.assertEqual(self.history(DigestSchedule), ["Changed Send time."])

    def test_pausing_stops_the_daily_run_and_the_pages_say_so(self) -> None:
        # The browser posts the hidden initial value Django adds for a callable default.
        unchanged = {"send_time": "07:00", "initial-send_time": "07:00:00"}
        self.client.post(self.schedule_page(), {**unchanged, "paused": "on"})
        self.assertEqual(Schedule.objects.get(name=schedules.DAILY_DIGEST).repeats, 0)
        paused = "No digest is scheduled: the daily schedule is paused."
        self.assertContains(self.client.get(reverse("admin:index")), paused)
        self.assertContains(self.client.get(reverse("admin:newsletter_digest_changelist")), paused)
        self.client.post(self.schedule_page(), unchanged)
        self.assertEqual(Schedule.objects.get(name=schedules.DAILY_DIGEST).repeats, -1)
        self.assertEqual(self.history(DigestSchedule), ["Changed Paused.", "Changed Paused."])

    def test_the_schedule_cannot_be_added_to_or_deleted(self) -> None:
        add = reverse("admin:newsletter_digestschedule_add")
        delete = reverse("admin:newsletter_digestschedule_delete", args=[1])
        self.assertEqual(self.client.get(add).status_code, 403)
        self.assertEqual(self.client.post(delete, {"post": "yes"}).status_code, 403)
        self.assertEqual(DigestSchedule.objects.count(), 1)


class ScheduleOneDigestAdminTests(DigestTimingTestCase):
    def test_todays_page_schedules_the_unbuilt_digest_and_cancels_it(self) -> None:
        self.assertContains(self.client.get(TODAY_PAGE), "with the daily schedule")
        response = self.plan("schedule", send_at="2026-04-21T10:15")
        self.assertContains(response, "The digest for 2026-04-21 starts sending Tue 21 Apr 10:15.")
        self.assertContains(response, "Scheduled: starts sending <strong>Tue 21 Apr, 10:15")
        self.assertEqual(ScheduledSend.objects.get().send_at, NOW.replace(hour=10, minute=15))
        self.assertFalse(Digest.objects.exists())  # curation goes on until then
        dashboard = self.client.get(reverse("admin:index"))
        self.assertContains(dashboard, "Next send: Tue 21 Apr, 10:15 (scheduled by an editor).")
        response = self.plan("cancel")
        self.assertContains(response, "Cancelled the scheduled send of the digest for 2026-04-21.")
        self.assertFalse(ScheduledSend.objects.exists())
        self.assertContains(self.plan("cancel"), "No send was scheduled.")
        # Before it is built, the digest's timing is in the schedule's history.
        self.assertEqual(self.history(DigestSchedule), [
            "The digest for 2026-04-21 starts sending Tue 21 Apr 10:15.",
            "Cancelled the scheduled send of the digest for 2026-04-21.",
        ])  # fmt: skip

    def test_a_past_or_missing_time_is_refused(self) -> None:
        past = self.plan("schedule", send_at="2026-04-21T04:59")
        self.assertContains(past, "Choose a time in the future, or send it now.")
        self.assertContains(self.plan("schedule", send_at=""), "Choose a date and time")
        self.assertFalse(ScheduledSend.objects.exists())
        self.assertEqual(self.history(DigestSchedule), [])

    def test_send_now_builds_and_sends_todays_digest(self) -> None:
        self.plan("schedule", send_at="2026-04-21T10:15")
        response = self.plan("send")
        self.assertContains(response, "Sending Digest for 2026-04-21 now.")
        self.assertEqual([m.to for m in mail.outbox], [["ada@example.com"]])
        # Sending now replaces the chosen time.
        self.assertFalse(ScheduledSend.objects.exists())

    def test_a_built_digests_page_schedules_it_and_logs_it_on_the_digest(self) -> None:
        digest = Digest.objects.create(date=TODAY, subject="Daybrief")
        Delivery.objects.create(digest=digest, subscriber=make_subscriber())
        page = reverse("admin:newsletter_digest_change", args=[digest.pk])
        self.assertContains(self.client.get(page), 'name="send_at"')
        response = self.plan("schedule", send_at="2026-04-21T09:00")
        self.assertRedirects(response, page)
        self.assertContains(response, "Scheduled: starts sending")
        self.assertContains(response, "Cancel the scheduled send")
        listing = self.client.get(reverse("admin:newsletter_digest_changelist"))
        self.assertContains(listing, '<td class="field-starts_sending">Tue 21 Apr, 09:00</td>')
        self.assertContains(listing, "Next send: Tue 21 Apr, 09:00 (scheduled by an editor).")
        # The digest's own "Send now" goes out at once and forgets the chosen time.
        control = reverse("admin:newsletter_digest_control", args=[digest.pk])
        self.client.post(control, {"operation": "send"})
        self.assertFalse(ScheduledSend.objects.exists())
        self.assertEqual(Digest.objects.get().status, DigestStatus.SENT)
        self.assertEqual(self.history(Digest), [
            "The digest for 2026-04-21 starts sending Tue 21 Apr 09:00.",
            "Sending Digest for 2026-04-21 now.",
        ])  # fmt: skip
        refused = self.plan("schedule", send_at="2026-04-21T11:00")
        self.assertContains(refused, "Digest for 2026-04-21 is already sent.")

    def test_only_today_or_a_built_digest_can_be_scheduled(self) -> None:
        yesterday = reverse("admin:newsletter_digest_schedule", args=["2026-04-20"])
        self.assertEqual(self.plan("send", url=yesterday).status_code, 404)
        nonsense = reverse("admin:newsletter_digest_schedule", args=["not-a-day"])
        self.assertEqual(self.plan("send", url=nonsense).status_code, 404)
        self.assertFalse(Digest.objects.exists())

    def test_scheduling_is_post_only(self) -> None:
        self.assertEqual(self.client.get(PLAN_URL + "?operation=send").status_code, 405)


class OutsiderTests(DigestTimingTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.editor.groups.clear()

    def test_staff_outside_the_editor_group_can_neither_schedule_nor_send(self) -> None:
        self.assertEqual(self.plan("send").status_code, 403)
        self.assertEqual(self.plan("schedule", send_at="2026-04-21T10:15").status_code, 403)
        self.assertEqual(self.client.get(SCHEDULE_LIST).status_code, 403)
        page = reverse("admin:newsletter_digestschedule_change", args=[1])
        self.assertEqual(self.client.post(page, {"send_time": "09:00"}).status_code, 403)
        self.assertFalse(Digest.objects.exists())
        self.assertFalse(ScheduledSend.objects.exists())
        self.assertEqual(DigestSchedule.objects.get().send_time, dt.time(7, 0))

    def test_the_editor_group_holds_the_schedules_permissions(self) -> None:
        codenames = set(
            Group.objects.get(name="Editor").permissions.values_list("codename", flat=True)
        )
        self.assertLessEqual({"view_digestschedule", "change_digestschedule"}, codenames)
        self.assertNotIn("delete_digestschedule", codenames)

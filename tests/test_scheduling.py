"""Digest timing: one day's digest sent at a time an editor chose (not before, then once,
readers' local hours still applying), cancelling that, and the editors' daily schedule
driving django-q2's real scheduler from its next run on."""

import datetime as dt

import time_machine
from django.core import mail
from django.test import TestCase
from django_q.models import Schedule
from django_q.scheduler import scheduler

from newsletter import digests, schedules, scheduling, tasks
from newsletter.models import Delivery, Digest, DigestSchedule, ScheduledSend
from tests.factories import make_article, make_subscriber, make_topic

# Site time is UTC in the tests; Berlin is UTC+2 on this day.
DAWN = dt.datetime(2026, 4, 21, 5, 0, tzinfo=dt.UTC)
DAILY_RUN = dt.datetime(2026, 4, 21, 7, 0, 30, tzinfo=dt.UTC)
CHOSEN = dt.datetime(2026, 4, 21, 8, 0, tzinfo=dt.UTC)
TODAY = DAWN.date()


class SchedulingTestCase(TestCase):
    def setUp(self) -> None:
        article = make_article(title="Lumora buys Brightwave", first_seen_at=DAWN)
        make_topic([article], headline="Lumora buys Brightwave", article_count=1,
                   importance=3, lead_article=article)  # fmt: skip
        self.ada = make_subscriber("ada@example.com")
        # 11:00 in Berlin is 09:00 UTC, an hour after the chosen time.
        self.bob = make_subscriber("bob@example.com", delivery_hour=11, time_zone="Europe/Berlin")

    def recipients(self) -> list[str]:
        return sorted(address for message in mail.outbox for address in message.to)

    def at(self, moment: dt.datetime) -> time_machine.travel:
        return time_machine.travel(moment, tick=False)


class ScheduledSendTests(SchedulingTestCase):
    def test_a_scheduled_digest_waits_for_its_time_then_goes_out_once(self) -> None:
        with self.at(DAWN):
            scheduling.schedule_send(TODAY, CHOSEN, DAWN)
        with self.at(DAILY_RUN):
            # The daily run leaves the day alone: curation goes on until the chosen time.
            self.assertEqual(tasks.daily_digest()["held"], 1)
        with self.at(CHOSEN - dt.timedelta(seconds=30)):
            tasks.send_due()
        self.assertFalse(Digest.objects.exists())
        self.assertEqual(mail.outbox, [])
        with self.at(CHOSEN + dt.timedelta(seconds=30)):
            tasks.send_due()
            tasks.send_due()  # the every-minute run fires again, or a second worker runs it
        self.assertEqual(self.recipients(), ["ada@example.com"])
        self.assertIsNotNone(ScheduledSend.objects.get().started_at)
        # Bob's morning hour is still ahead: his delivery waits for it.
        held = Delivery.objects.get(subscriber=self.bob)
        self.assertEqual(held.send_after, dt.datetime(2026, 4, 21, 9, 0, tzinfo=dt.UTC))
        with self.at(dt.datetime(2026, 4, 21, 9, 0, 30, tzinfo=dt.UTC)):
            tasks.send_due()
            tasks.daily_digest()  # a daily run firing late sends nothing more
        self.assertEqual(self.recipients(), ["ada@example.com", "bob@example.com"])
        self.assertEqual(Digest.objects.count(), 1)

    def test_a_worker_that_read_the_send_before_another_started_it_sends_nothing_more(
        self,
    ) -> None:
        with self.at(DAWN):
            scheduling.schedule_send(TODAY, CHOSEN, DAWN)
        with self.at(CHOSEN + dt.timedelta(minutes=1)):
            tasks.send_due()
            # As seen by a worker that listed the waiting sends before the first one
            # recorded its start.
            ScheduledSend.objects.update(started_at=None)
            tasks.send_due()
        self.assertEqual(self.recipients(), ["ada@example.com"])
        self.assertEqual(Digest.objects.count(), 1)
        self.assertEqual(Delivery.objects.count(), 2)

    def test_a_built_digest_scheduled_later_is_not_sent_by_the_daily_run(self) -> None:
        with self.at(DAWN):
            digest = digests.build_digest(TODAY)
            scheduling.schedule_send(TODAY, CHOSEN, DAWN)
        with self.at(DAILY_RUN):
            tasks.daily_digest()
            tasks.send_due()
        self.assertEqual(mail.outbox, [])
        with self.at(CHOSEN + dt.timedelta(minutes=1)):
            tasks.send_due()
        self.assertEqual(self.recipients(), ["ada@example.com"])
        # The digest built at dawn was sent, not a second one.
        self.assertEqual(list(Digest.objects.values_list("pk", flat=True)), [digest.pk])

    def test_cancelling_gives_the_day_back_to_the_daily_run(self) -> None:
        with self.at(DAWN):
            scheduling.schedule_send(TODAY, CHOSEN, DAWN)
            self.assertTrue(scheduling.cancel_send(TODAY))
            self.assertFalse(scheduling.cancel_send(TODAY))
        with self.at(DAILY_RUN):
            tasks.daily_digest()
        self.assertEqual(self.recipients(), ["ada@example.com"])

    def test_a_send_cancelled_after_the_daily_time_waits_for_send_now(self) -> None:
        with self.at(DAWN):
            scheduling.schedule_send(TODAY, CHOSEN, DAWN)
        with self.at(DAILY_RUN):
            tasks.daily_digest()
            scheduling.cancel_send(TODAY)
        with self.at(CHOSEN + dt.timedelta(minutes=1)):
            tasks.send_due()
            self.assertEqual(mail.outbox, [])
            scheduling.send_now(TODAY)
        self.assertEqual(self.recipients(), ["ada@example.com"])

    def test_moving_the_time_replaces_the_earlier_choice(self) -> None:
        later = CHOSEN + dt.timedelta(hours=2)
        with self.at(DAWN):
            scheduling.schedule_send(TODAY, CHOSEN, DAWN)
            scheduling.schedule_send(TODAY, later, DAWN)
        self.assertEqual(list(ScheduledSend.objects.values_list("send_at", flat=True)), [later])
        with self.at(CHOSEN + dt.timedelta(minutes=1)):
            tasks.send_due()
        self.assertEqual(mail.outbox, [])

    def test_past_times_past_days_and_started_digests_cannot_be_scheduled(self) -> None:
        with self.at(DAWN):
            cases = {
                "a past time": (TODAY, DAWN - dt.timedelta(minutes=1)),
                "a past day with no digest": (TODAY - dt.timedelta(days=1), CHOSEN),
            }
            for name, (day, send_at) in cases.items():
                with self.subTest(name), self.assertRaises(scheduling.CannotSchedule):
                    scheduling.schedule_send(day, send_at, DAWN)
            scheduling.send_now(TODAY)
            with self.assertRaisesMessage(scheduling.CannotSchedule, "is already sending"):
                scheduling.schedule_send(TODAY, CHOSEN, DAWN)
        self.assertFalse(ScheduledSend.objects.exists())

    def test_the_next_send_is_the_earliest_of_the_one_off_and_the_daily_run(self) -> None:
        with self.at(DAWN):
            schedules.register_schedules()
            daily = scheduling.next_send(DAWN)
            self.assertEqual((daily.at, daily.one_off), (DAILY_RUN.replace(second=0), False))
            scheduling.schedule_send(TODAY, CHOSEN, DAWN)
            one_off = scheduling.next_send(DAWN)
            self.assertEqual((one_off.at, one_off.one_off, one_off.date), (CHOSEN, True, TODAY))
            self.assertEqual(str(one_off), "Tue 21 Apr, 08:00 (scheduled by an editor)")
            # Tomorrow's daily run comes after today's one-off send.
            scheduling.start_due_sends(CHOSEN)
            tomorrow = scheduling.next_send(CHOSEN)
        self.assertEqual(tomorrow.at, dt.datetime(2026, 4, 22, 7, 0, tzinfo=dt.UTC))
        self.assertFalse(tomorrow.one_off)


class DailyScheduleTests(SchedulingTestCase):
    """django-q2's own scheduler, run inline (sync mode), as a worker runs it every tick."""

    def setUp(self) -> None:
        super().setUp()
        # Only the digest's schedule: the others would fetch feeds when their time comes.
        Schedule.objects.exclude(name=schedules.DAILY_DIGEST).delete()

    def change(self, **fields: object) -> None:
        digest_schedule = DigestSchedule.objects.get_current()
        for name, value in fields.items():
            setattr(digest_schedule, name, value)
        digest_schedule.save()
        schedules.apply_daily_schedule(digest_schedule)

    def test_a_new_daily_time_counts_from_the_next_run(self) -> None:
        with self.at(DAWN):
            self.change(send_time=dt.time(9, 30))
        with self.at(DAILY_RUN):
            scheduler()  # the old time passes: nothing
        self.assertFalse(Digest.objects.exists())
        with self.at(dt.datetime(2026, 4, 21, 9, 30, 5, tzinfo=dt.UTC)):
            scheduler()
            scheduler()  # a second tick in the same minute
        self.assertEqual(self.recipients(), ["ada@example.com", "bob@example.com"])
        daily = Schedule.objects.get(name=schedules.DAILY_DIGEST)
        self.assertEqual(daily.next_run, dt.datetime(2026, 4, 22, 9, 30, tzinfo=dt.UTC))

    def test_a_paused_schedule_sends_nothing_until_resumed(self) -> None:
        with self.at(DAWN):
            self.change(paused=True)
            self.assertIsNone(scheduling.next_send(DAWN))
        with self.at(DAILY_RUN):
            scheduler()
        self.assertFalse(Digest.objects.exists())
        with self.at(DAILY_RUN + dt.timedelta(hours=1)):
            self.change(paused=False)
        # Resumed after today's time: no catch-up, the next run is tomorrow's.
        daily = Schedule.objects.get(name=schedules.DAILY_DIGEST)
        self.assertEqual(daily.next_run, dt.datetime(2026, 4, 22, 7, 0, tzinfo=dt.UTC))
        with self.at(daily.next_run + dt.timedelta(seconds=5)):
            scheduler()
        self.assertEqual(
            list(Digest.objects.values_list("date", flat=True)), [daily.next_run.date()]
        )
        # Built with tomorrow's readers frozen, the ledger's one row each.
        self.assertEqual(Delivery.objects.count(), 2)

import datetime as dt

import pytest
import time_machine
from django_q.models import Schedule

from newsletter.models import DigestSchedule
from newsletter.schedules import (
    DAILY_DIGEST,
    FETCH_ROUND,
    PRUNE,
    RETRY_READER_EMAILS,
    SEND_DUE,
    next_digest_time,
    register_schedules,
)

NOW = dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_migrate_registers_the_fetch_round_and_the_daily_digest_once():
    register_schedules()  # a second migrate
    schedules = {s.name: s for s in Schedule.objects.all()}
    assert set(schedules) == {FETCH_ROUND, DAILY_DIGEST, PRUNE, SEND_DUE, RETRY_READER_EMAILS}
    assert schedules[SEND_DUE].func == "newsletter.tasks.send_due"
    assert schedules[SEND_DUE].minutes == 1
    retry = schedules[RETRY_READER_EMAILS]
    assert (retry.func, retry.minutes) == ("newsletter.readermail.send_due_reader_emails", 1)
    assert schedules[FETCH_ROUND].func == "topics.tasks.fetch_round"
    assert schedules[FETCH_ROUND].minutes == 15
    assert schedules[DAILY_DIGEST].func == "newsletter.tasks.daily_digest"
    assert schedules[DAILY_DIGEST].schedule_type == Schedule.DAILY


@pytest.mark.django_db
def test_registering_again_keeps_the_fetch_rounds_next_run(settings):
    fetch = Schedule.objects.get(name=FETCH_ROUND)
    Schedule.objects.filter(pk=fetch.pk).update(next_run=NOW)
    settings.DAYBRIEF_FETCH_MINUTES = 30
    register_schedules()
    fetch.refresh_from_db()
    assert (fetch.next_run, fetch.minutes) == (NOW, 30)


def test_the_digest_runs_at_the_chosen_local_time_today_or_tomorrow(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    at = dt.time(7, 30)
    # 06:00 UTC is 07:00 in Berlin: today's 07:30 is still ahead.
    assert next_digest_time(NOW, at) == dt.datetime(2026, 3, 10, 6, 30, tzinfo=dt.UTC)
    # Past it: tomorrow.
    assert next_digest_time(NOW + dt.timedelta(hours=1), at) == dt.datetime(
        2026, 3, 11, 6, 30, tzinfo=dt.UTC
    )


@pytest.mark.django_db
def test_the_setting_is_only_the_first_daily_time(settings):
    settings.DAYBRIEF_DIGEST_TIME = "06:15"
    DigestSchedule.objects.all().delete()
    assert DigestSchedule.objects.get_current().send_time == dt.time(6, 15)
    # An editor's choice outlives the setting and every later migrate.
    DigestSchedule.objects.update(send_time=dt.time(9, 0), paused=True)
    settings.DAYBRIEF_DIGEST_TIME = "05:00"
    with time_machine.travel(NOW, tick=False):
        register_schedules()
    daily = Schedule.objects.get(name=DAILY_DIGEST)
    assert daily.next_run == dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
    # Paused: django-q2's scheduler skips schedules with no repeats left.
    assert daily.repeats == 0

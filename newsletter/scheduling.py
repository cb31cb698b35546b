"""Sending one day's digest at a time an editor chose, instead of at the daily time or now.

A ScheduledSend row holds the choice. The daily schedule leaves a day that has one alone
(newsletter/tasks.py); the every-minute sender starts it once its time came: it builds
the digest if needed (so curation goes on until then) and starts it like the daily run
does, so readers who chose a later local hour still get it at that hour. Building and
starting are both idempotent and the ledger decides what is sent, so a second run, or a
second worker, sends nothing twice.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from newsletter import digests, schedules, sending
from newsletter.models import Digest, DigestStatus, ScheduledSend


class CannotSchedule(Exception):
    """The digest is already on its way, or the day cannot be scheduled; says why."""


@dataclass(frozen=True)
class NextSend:
    at: dt.datetime
    # True when an editor chose this time for one digest; False for the daily schedule.
    one_off: bool
    # The day whose digest goes out then.
    date: dt.date

    def __str__(self) -> str:
        """'Tue 21 Apr, 10:30 (scheduled by an editor)', for the admin's pages."""
        at = timezone.localtime(self.at)
        how = "scheduled by an editor" if self.one_off else "daily schedule"
        if at.date() != self.date:
            how += f", the digest for {self.date:%a %d %b}"
        return f"{at:%a %d %b, %H:%M} ({how})"


def schedule_send(day: dt.date, send_at: dt.datetime, now: dt.datetime) -> ScheduledSend:
    """Have the digest for `day` start sending at `send_at`, replacing an earlier choice."""
    if send_at <= now:
        raise CannotSchedule("Choose a time in the future, or send it now.")
    digest = digests.find_digest(day)
    if digest is None and day < timezone.localdate(now):
        raise CannotSchedule(f"No digest was built for {day:%Y-%m-%d}.")
    if digest is not None and digest.status != DigestStatus.BUILT:
        raise CannotSchedule(f"{digest} is already {digest.get_status_display().lower()}.")
    try:
        with transaction.atomic():
            scheduled, _ = ScheduledSend.objects.update_or_create(
                date=day, started_at=None, defaults={"send_at": send_at}
            )
    except IntegrityError:
        # The row for that day has started since we looked at the digest.
        raise CannotSchedule(f"The digest for {day:%Y-%m-%d} has started sending.") from None
    return scheduled


def cancel_send(day: dt.date) -> bool:
    """Forget the time chosen for `day`'s digest; False if none was waiting. The day goes
    back to the daily schedule, or waits for "Send now" if the daily time has passed."""
    deleted, _ = ScheduledSend.objects.waiting().filter(date=day).delete()
    return deleted > 0


def waiting_send(day: dt.date) -> ScheduledSend | None:
    return ScheduledSend.objects.waiting().filter(date=day).first()


def send_now(day: dt.date) -> Digest:
    """Build `day`'s digest if needed and queue its sending at once, dropping any time
    chosen for it."""
    cancel_send(day)
    digest = digests.build_digest(day)
    sending.enqueue_sending(digest.pk)
    return digest


def start_due_sends(now: dt.datetime) -> list[int]:
    """Start every waiting send whose time came; the ids of their digests."""
    started = []
    for scheduled in ScheduledSend.objects.waiting().filter(send_at__lte=now):
        digest = digests.build_digest(scheduled.date)
        # Starting first: if we die before recording it, the next minute starts it again,
        # which changes nothing.
        sending.start_digest(digest.pk)
        ScheduledSend.objects.filter(pk=scheduled.pk, started_at__isnull=True).update(
            started_at=now
        )
        started.append(digest.pk)
    return started


def is_held(day: dt.date) -> bool:
    """True when an editor chose a time for `day`'s digest and it has not started yet."""
    return ScheduledSend.objects.waiting().filter(date=day).exists()


def next_send(now: dt.datetime) -> NextSend | None:
    """The next time a digest starts going out: the earliest waiting one-off send, or the
    daily run (skipping a day that has a one-off send); None when neither is coming."""
    one_off = ScheduledSend.objects.waiting().first()
    daily = next_daily_send(one_off)
    if one_off is not None and (daily is None or one_off.send_at <= daily.at):
        return NextSend(one_off.send_at, one_off=True, date=one_off.date)
    return daily


def next_daily_send(one_off: ScheduledSend | None) -> NextSend | None:
    """The daily run that will send something: a day with a one-off send, or whose digest
    has already started, makes that day's run a no-op."""
    at = schedules.next_daily_run()
    if at is None:
        return None
    day = timezone.localdate(at)
    started = Digest.objects.filter(date=day).exclude(status=DigestStatus.BUILT).exists()
    if started or (one_off is not None and one_off.date == day):
        at, day = at + dt.timedelta(days=1), day + dt.timedelta(days=1)
    return NextSend(at, one_off=False, date=day)

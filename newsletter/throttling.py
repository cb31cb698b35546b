"""Rate limits shared by every worker and web process, kept in the database.

Each limit is a ThrottleBucket row holding the time its next slot opens (the generic cell
rate algorithm): taking a slot moves that time on by one interval. `burst` slots may be
taken ahead of time, which makes the same row a sliding "N per period" limit for signups.
The row is updated under the database's write lock (a row lock on PostgreSQL, the
IMMEDIATE transaction on SQLite), so two workers never get the same slot.
"""

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from newsletter.models import ThrottleBucket

GLOBAL = "send:all"


def reserve(key: str, interval: dt.timedelta, burst: int = 1, wait: bool = True) -> dt.timedelta:
    """Take the next slot of `key`'s limit; how long to wait before using it (zero: now).

    With wait=False a slot is only taken when it is free now, so a refused caller costs
    nothing (signup limits); the positive wait says when to try again.
    """
    now = timezone.now()
    # Inside a caller's transaction (both signup limits at once), no savepoint: it would
    # cost two round trips for nothing, since a refusal writes nothing.
    with transaction.atomic(savepoint=False):
        bucket = _locked_bucket(key)
        if bucket is None:
            # A new limit's first slot is free: the row is created with it taken.
            if _create_bucket(key, next_slot_at=now + interval):
                return dt.timedelta(0)
            # Another process created it between our read and our insert.
            bucket = _locked_bucket(key)
            assert bucket is not None
        start = max(bucket.next_slot_at, now)
        delay = max(start - interval * (burst - 1) - now, dt.timedelta(0))
        if delay and not wait:
            return delay
        bucket.next_slot_at = start + interval
        bucket.save(update_fields=["next_slot_at"])
    return delay


def _locked_bucket(key: str) -> ThrottleBucket | None:
    buckets = ThrottleBucket.objects.all()
    if connection.features.has_select_for_update:
        buckets = buckets.select_for_update()
    return buckets.filter(key=key).first()


TABLE = ThrottleBucket._meta.db_table
# ON CONFLICT instead of catching IntegrityError: no savepoint (two round trips) around it,
# which every signup paid for its address's new limit. Both databases read this statement.
CREATE_SQL = (
    f"INSERT INTO {TABLE} ({connection.ops.quote_name('key')}, next_slot_at) VALUES (%s, %s) "
    "ON CONFLICT DO NOTHING RETURNING id"
)


def _create_bucket(key: str, next_slot_at: dt.datetime) -> bool:
    """Create the key's bucket; False when it exists already."""
    value = connection.ops.adapt_datetimefield_value(next_slot_at)
    with connection.cursor() as cursor:
        cursor.execute(CREATE_SQL, [key, value])
        return cursor.fetchone() is not None


def domain_rates() -> dict[str, int]:
    """DAYBRIEF_DOMAIN_RATES as {domain: messages per second}; bad entries are an error."""
    rates: dict[str, int] = {}
    for item in settings.DAYBRIEF_DOMAIN_RATES:
        domain, _, rate = item.partition("=")
        if not rate.strip().isdigit():
            raise ValueError(f"DAYBRIEF_DOMAIN_RATES: {item!r} is not domain=messages_per_second")
        rates[domain.strip().lower()] = int(rate)
    return rates


def per_second(rate: int) -> dt.timedelta:
    return dt.timedelta(seconds=1 / rate)


def wait_for_slot(address: str, sleep: Callable[[float], None]) -> float:
    """Wait until a message to `address` may leave under the global and its domain's
    limits; the seconds waited. Does nothing (no query) when no limit is configured."""
    waited = 0.0
    domain = address.rpartition("@")[2].lower()
    limits = [(GLOBAL, settings.DAYBRIEF_SEND_RATE)]
    limits.append((f"send:{domain}", domain_rates().get(domain, 0)))
    for key, rate in limits:
        if rate > 0:
            delay = reserve(key, per_second(rate)).total_seconds()
            if delay > 0:
                sleep(delay)
                waited += delay
    return waited

"""Leases on deliveries: which worker holds a row, until when, and what happens if it dies.

A worker claims a batch of pending rows (status "sending", its owner id, an expiry). It
records a row as "sent" just before the server can accept the message (newsletter/smtp.py)
and drops the lease once the server has answered. So when a worker dies:

* rows still "sending" never reached the server's final dot: nobody got them, and the
  reconciler puts them back in the queue;
* rows "sent" that still carry a lease were handed over but never answered: the message
  may or may not have arrived, so the reconciler marks them "uncertain" for an editor to
  look at, instead of resending (a duplicate) or forgetting them (a silent miss).

A lease ends when it expires, or at once when its owner is a process on this host that no
longer runs (a SIGKILLed child that was not reaped yet is a zombie: dead too).
"""

import datetime as dt
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from newsletter.models import Delivery, DeliveryStatus

HOST = socket.gethostname()


def lease_owner() -> str:
    # Read per call: a forked worker must not inherit its parent's identity.
    return f"{HOST}:{os.getpid()}"


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=settings.DAYBRIEF_LEASE_SECONDS)


def claim_batch(digest_id: int, size: int, now: dt.datetime) -> list[int]:
    """Lease up to `size` due pending deliveries of the digest to this worker; their ids.

    PostgreSQL skips rows other workers have locked, so workers never wait on each other.
    SQLite has no row locks, but our transactions start IMMEDIATE (settings.py), so the
    whole select-then-update runs under the database's write lock: the same guarantee.
    The update re-checks the status, so a row is never claimed twice in any case.
    """
    owner = lease_owner()
    with transaction.atomic():
        due = due_deliveries(digest_id, now).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:size])
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SENDING,
            lease_owner=owner,
            lease_until=now + lease_length(),
            claimed_at=now,
        )
    return list(
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING, lease_owner=owner)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def due_deliveries(digest_id: int, now: dt.datetime) -> QuerySet[Delivery]:
    due = Q(send_after__isnull=True) | Q(send_after__lte=now)
    return Delivery.objects.filter(due, digest_id=digest_id, status=DeliveryStatus.PENDING)


@dataclass
class ReconcileResult:
    requeued: int = 0
    uncertain: int = 0


def reconcile_leases(now: dt.datetime | None = None) -> ReconcileResult:
    """End the leases of dead or late workers: unsent rows go back to the queue, rows
    handed over without an answer become uncertain."""
    now = now or timezone.now()
    held = Delivery.objects.exclude(lease_owner="")
    ended = held.filter(lease_until__lt=now) | held.filter(lease_owner__in=dead_owners(held))
    requeued = ended.filter(status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING, lease_owner="", lease_until=None
    )
    uncertain = ended.filter(status=DeliveryStatus.SENT).update(
        status=DeliveryStatus.UNCERTAIN,
        lease_owner="",
        lease_until=None,
        error="The worker died after handing the message over and before the server's answer.",
    )
    return ReconcileResult(requeued, uncertain)


def dead_owners(held: QuerySet[Delivery]) -> list[str]:
    owners = held.values_list("lease_owner", flat=True).distinct()
    return [owner for owner in owners if is_dead_here(owner)]


def is_dead_here(owner: str) -> bool:
    """True only for an owner on this host whose process is gone or a zombie; owners on
    other hosts are judged by their lease expiry alone."""
    host, _, pid = owner.rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    return not process_runs(int(pid))


def process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        # The state follows the parenthesised command name, which may contain spaces.
        state = stat.read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def end_lease(delivery_id: int) -> None:
    """The server answered: the row's outcome is settled, the lease is no longer needed."""
    Delivery.objects.filter(pk=delivery_id, lease_owner=lease_owner()).update(
        lease_owner="", lease_until=None
    )

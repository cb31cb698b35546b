import datetime as dt
import os
import subprocess
import sys

import pytest
import time_machine

from newsletter import leases
from newsletter.digests import build_digest
from newsletter.models import Delivery, DeliveryStatus
from tests.factories import make_article, make_subscriber, make_topic

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def deliveries():
    article = make_article(title="Rates cut")
    make_topic([article], headline="Rates cut", score=9, article_count=1, lead_article=article)
    make_subscriber("alice@example.com")
    make_subscriber("bob@example.com")
    build_digest(NOW.date())
    return Delivery.objects.order_by("pk")


def dead_pid() -> int:
    # A child that has exited and been reaped: its pid names no process.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def hold(delivery: Delivery, status: str, owner: str, until: dt.datetime) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, lease_owner=owner, lease_until=until
    )


def test_unsent_rows_of_a_dead_worker_go_back_to_the_queue(deliveries):
    alice = deliveries.first()
    hold(alice, DeliveryStatus.SENDING, f"{leases.HOST}:{dead_pid()}", NOW + dt.timedelta(hours=1))
    result = leases.reconcile_leases()
    assert (result.requeued, result.uncertain) == (1, 0)
    alice.refresh_from_db()
    assert (alice.status, alice.lease_owner, alice.lease_until) == ("pending", "", None)


def test_rows_handed_over_by_a_dead_worker_become_uncertain_not_resent(deliveries):
    alice = deliveries.first()
    hold(alice, DeliveryStatus.SENT, f"{leases.HOST}:{dead_pid()}", NOW + dt.timedelta(hours=1))
    assert leases.reconcile_leases().uncertain == 1
    alice.refresh_from_db()
    assert alice.status == DeliveryStatus.UNCERTAIN
    assert "died" in alice.error


def test_a_live_workers_lease_is_left_alone_until_it_expires(deliveries):
    alice = deliveries.first()
    hold(alice, DeliveryStatus.SENDING, leases.lease_owner(), NOW + dt.timedelta(minutes=5))
    assert leases.reconcile_leases().requeued == 0
    with time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False):
        assert leases.reconcile_leases().requeued == 1


def test_a_lease_from_another_host_ends_only_by_expiry(deliveries):
    alice = deliveries.first()
    hold(alice, DeliveryStatus.SENDING, "elsewhere:1", NOW + dt.timedelta(minutes=5))
    assert leases.reconcile_leases().requeued == 0
    assert leases.reconcile_leases(NOW + dt.timedelta(minutes=5, seconds=1)).requeued == 1


def test_a_zombie_counts_as_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    # Wait for it to exit without reaping it, so it stays a zombie.
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    try:
        assert leases.process_runs(child.pid) is False
    finally:
        child.wait()
    assert leases.process_runs(os.getpid()) is True


def test_settled_rows_are_never_touched(deliveries):
    alice = deliveries.first()
    Delivery.objects.filter(pk=alice.pk).update(status=DeliveryStatus.SENT)
    assert leases.reconcile_leases() == leases.ReconcileResult(0, 0)

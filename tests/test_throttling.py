import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from newsletter import throttling
from newsletter.models import ThrottleBucket

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def test_slots_of_one_limit_are_spaced_by_its_interval():
    waits = [throttling.reserve("send:all", SECOND) for _ in range(3)]
    assert waits == [dt.timedelta(0), SECOND, 2 * SECOND]


def test_a_burst_allows_that_many_at_once_then_refuses_without_taking_a_slot():
    hour = dt.timedelta(hours=1)
    allowed = [throttling.reserve("signup:ip", hour, burst=3, wait=False) for _ in range(3)]
    assert allowed == [dt.timedelta(0)] * 3
    refused = throttling.reserve("signup:ip", hour, burst=3, wait=False)
    assert refused == hour
    # A refusal cost nothing: after one interval exactly one more is allowed.
    with time_machine.travel(NOW + hour, tick=False):
        assert throttling.reserve("signup:ip", hour, burst=3, wait=False) == dt.timedelta(0)
        assert throttling.reserve("signup:ip", hour, burst=3, wait=False) > dt.timedelta(0)


def test_domain_and_global_rates_both_hold_a_message_back(settings):
    settings.DAYBRIEF_SEND_RATE = 10
    settings.DAYBRIEF_DOMAIN_RATES = ["gmail.com=2"]
    slept: list[float] = []
    throttling.wait_for_slot("a@gmail.com", slept.append)
    throttling.wait_for_slot("b@gmail.com", slept.append)
    # The second gmail message waits half a second for its domain, after 0.1 s globally.
    assert slept == [pytest.approx(0.1), pytest.approx(0.5)]
    slept.clear()
    throttling.wait_for_slot("c@example.org", slept.append)
    assert slept == [pytest.approx(0.2)]


def test_no_limit_means_no_wait_and_no_query(settings, django_assert_num_queries):
    settings.DAYBRIEF_SEND_RATE = 0
    with django_assert_num_queries(0):
        assert throttling.wait_for_slot("a@gmail.com", pytest.fail) == 0


def test_a_malformed_domain_rate_is_an_error(settings):
    settings.DAYBRIEF_DOMAIN_RATES = ["gmail.com:20"]
    with pytest.raises(ValueError, match="domain=messages_per_second"):
        throttling.domain_rates()


def test_a_new_limit_is_created_with_its_first_slot_taken_in_one_insert():
    with CaptureQueriesContext(connection) as queries:
        assert throttling.reserve("signup:address:new", SECOND) == dt.timedelta(0)
    # The look for the row, then the insert: no savepoint, no update.
    assert len(queries) == 2
    assert ThrottleBucket.objects.get().next_slot_at == NOW + SECOND


def test_a_limit_another_process_created_meanwhile_is_used_not_duplicated(monkeypatch):
    throttling.reserve("send:all", SECOND)
    looks = []

    def misses_the_first_time(key: str) -> ThrottleBucket | None:
        # The other process inserts the row just after our first look.
        looks.append(key)
        return None if len(looks) == 1 else ThrottleBucket.objects.filter(key=key).first()

    monkeypatch.setattr(throttling, "_locked_bucket", misses_the_first_time)
    assert throttling.reserve("send:all", SECOND) == SECOND
    assert ThrottleBucket.objects.get().next_slot_at == NOW + 2 * SECOND

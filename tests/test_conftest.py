"""The shared fixtures of tests/conftest.py."""

import datetime as dt

import pytest
from django.utils import timezone

# Far from any other module's NOW, so a clock frozen elsewhere cannot pass for this one.
NOW = dt.datetime(2031, 5, 4, 3, 2, 1, tzinfo=dt.UTC)


@pytest.mark.usefixtures("frozen_now")
def test_frozen_now_stops_the_clock_at_the_module_s_now() -> None:
    first = timezone.now()
    sum(range(100_000))  # some work: the clock must not tick

    assert first == timezone.now() == NOW


def test_frozen_now_gives_the_frozen_time(frozen_now: dt.datetime) -> None:
    assert frozen_now == NOW

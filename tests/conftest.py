"""Shared fixtures. Personas and builders live in tests/factories.py."""

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import time_machine

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the project; tests that need it skip on a user's clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def frozen_now(request: pytest.FixtureRequest) -> Iterator[datetime]:
    """The clock stopped at the test module's NOW for the whole test; yields NOW.
    Modules use it with `pytestmark = [..., pytest.mark.usefixtures("frozen_now")]`."""
    now: datetime = request.module.NOW
    with time_machine.travel(now, tick=False):
        yield now


@pytest.fixture(autouse=True)
def _outbox_in_tmp(settings, tmp_path):
    # Nothing a test writes may land in the developer's var/outbox.
    settings.OUTBOX_DIR = tmp_path / "outbox"


@pytest.fixture(autouse=True)
def _empty_cache():
    # Pages cached by one test must not answer the next one's requests.
    from django.core.cache import cache

    cache.clear()

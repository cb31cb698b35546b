"""Shared fixtures. Personas and builders live in tests/factories.py."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the project; tests that need it skip on a user's clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _outbox_in_tmp(settings, tmp_path):
    # Nothing a test writes may land in the developer's var/outbox.
    settings.OUTBOX_DIR = tmp_path / "outbox"


@pytest.fixture(autouse=True)
def _empty_cache():
    # Pages cached by one test must not answer the next one's requests.
    from django.core.cache import cache

    cache.clear()

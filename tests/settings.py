"""The production settings with what tests need on top: nothing else differs."""

from newsletter.settings import *  # noqa: F403
from newsletter.settings import Q_CLUSTER

# A cheap hasher keeps the suite fast.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run inline so their errors fail the test that caused them.
Q_CLUSTER["sync"] = True
# Tests serve feeds from loopback.
DAYBRIEF_ALLOW_PRIVATE_FEEDS = True
# Each test process keeps its own page cache (tests/conftest.py empties it per test),
# whatever REDIS_URL says: suites running side by side must not share pages.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

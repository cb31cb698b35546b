"""Rendered public pages kept in Django's cache, retired all at once when topics change.

Every cached page's key holds the current *pages version*. Whatever can change what a page
shows (a clustering run, enrichment, ranking, an editor's curation or admin edit, changed
articles, a digest built or edited, retention) calls `pages_changed()`, which moves the
version on: every page is rendered afresh on its next request. Changes no code path reports
(none are known) and relative times ("3 hours ago") are at most DAYBRIEF_PAGE_CACHE_SECONDS
stale. One request renders a page afresh; readers arriving meanwhile get its newest copy (at most
STALE_SECONDS past its lifetime) instead of rendering it again all at once.

CachedPageMiddleware answers a reader's fresh page before the session, CSRF, auth and
messages middleware run; the decorator answers everyone else, renders and stores.

Readers get an ETag and Last-Modified with every page and a 304 when their copy is current.
Only pages that are the same for every visitor are shared: no cookies set, no CSRF token
used, no messages shown; staff may see more (hidden topics) and are never served from it.
"""

import contextlib
import dataclasses
import functools
import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date

VERSION_KEY = "pages:version"
# While one request renders a page afresh, the others get the newest copy of it, at most this
# old past its freshness, instead of all rendering it at once (a stampede on a busy index).
STALE_SECONDS = 300
# How long a render may hold the page before another request takes over.
RENDER_LOCK_SECONDS = 30
# Pages this process served lately, by key (the key names the pages version): a reader's hit
# then reads only the version from the shared cache, not the page as well.
RECENT_PAGES = 200
_recent: dict[str, "Page"] = {}
# Set inside one_change_for_many(): the changes seen so far, reported on the way out.
_quiet = threading.local()

View = Callable[..., HttpResponse]
# The attribute cached_page() leaves on a view: whether staff see more (see cached_page()).
MARK = "page_cache_staff_sees_more"


@dataclasses.dataclass(frozen=True)
class Page:
    """What is kept of a response: enough to answer a GET or a conditional GET."""

    content: bytes
    content_type: str
    etag: str
    last_modified: float

    def is_fresh(self) -> bool:
        return time.time() < self.last_modified + settings.DAYBRIEF_PAGE_CACHE_SECONDS

    @classmethod
    def of(cls, response: HttpResponse) -> "Page":
        digest = hashlib.blake2b(response.content, digest_size=16).hexdigest()
        return cls(response.content, response["Content-Type"], f'"{digest}"', time.time())

    def response_to(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(self.content, content_type=self.content_type)
        response["ETag"] = self.etag
        response["Last-Modified"] = http_date(self.last_modified)
        # Browsers keep the page but ask again each time; a 304 costs no rendering.
        patch_cache_control(response, max_age=0, must_revalidate=True)
        conditional = get_conditional_response(
            request, etag=self.etag, last_modified=int(self.last_modified), response=response
        )
        return conditional or response


def pages_changed() -> None:
    """Retire every cached page: now, and again when the current transaction commits.

    Now, so this connection's next page (tests, the rest of a request) shows the change; at
    commit, because a page that another process rendered from the old rows in between may
    have been stored under the new version.
    """
    if getattr(_quiet, "changes", None) is not None:
        _quiet.changes += 1
        return
    _new_version()
    transaction.on_commit(_new_version)


@contextlib.contextmanager
def one_change_for_many() -> Iterator[None]:
    """Report the changes made inside as one (bulk jobs: each deleted row sends a signal)."""
    _quiet.changes = 0
    try:
        yield
    finally:
        changes, _quiet.changes = _quiet.changes, None
        if changes:
            pages_changed()


def _new_version() -> None:
    # Any value not seen before will do: the version only has to differ.
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def current_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:  # first use, or the cache was flushed or evicted the key
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    return str(version)


def page_key(request: HttpRequest, version: str | None = None) -> str:
    """The page's key: the version, the reader's day (the index's "today"), path and query.

    `version="latest"` names the newest page of any version, kept to answer while it is
    rendered afresh.
    """
    path = hashlib.blake2b(request.get_full_path().encode(), digest_size=16).hexdigest()
    version = version or current_version()
    return f"pages:{version}:{timezone.localdate().isoformat()}:{path}"


def cached_page(*, staff_sees_more: bool) -> Callable[[View], View]:
    """Serve the view's page from the cache to readers, rendering it once per version.

    `staff_sees_more`: the view shows staff more than readers (so it reads the session and
    the page varies by cookie); staff always get a fresh page.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not may_share(request, staff_sees_more):
                return view(request, *args, **kwargs)
            key = page_key(request)
            page: Page | None = cache.get(key)
            if page is not None and page.is_fresh():
                return page.response_to(request)
            lock = f"{key}:rendering"
            if not cache.add(lock, 1, RENDER_LOCK_SECONDS):
                # Another request is rendering this page: answer with the newest copy
                # rather than render it twenty times at once under load.
                page = page or cache.get(page_key(request, "latest"))
                if page is not None:
                    return page.response_to(request)
                # Nothing to answer with: render too, leaving the other request's lock alone.
                return render_and_store(view, request, key, *args, **kwargs)
            try:
                return render_and_store(view, request, key, *args, **kwargs)
            finally:
                cache.delete(lock)

        # Read by CachedPageMiddleware, which answers a fresh page before the view is reached.
        setattr(wrapper, MARK, staff_sees_more)
        return wrapper

    return decorate


def render_and_store(
    view: View, request: HttpRequest, key: str, *args: Any, **kwargs: Any
) -> HttpResponse:
    response = view(request, *args, **kwargs)
    if not may_store(request, response):
        return response
    page = Page.of(response)
    # Kept past its freshness so that it can answer while its successor is rendered.
    timeout = settings.DAYBRIEF_PAGE_CACHE_SECONDS + STALE_SECONDS
    cache.set_many({key: page, page_key(request, "latest"): page}, timeout)
    return page.response_to(request)


def may_share(request: HttpRequest, staff_sees_more: bool) -> bool:
    """Whether this request may get the page every reader gets."""
    if request.method not in ("GET", "HEAD") or settings.DAYBRIEF_PAGE_CACHE_SECONDS <= 0:
        return False
    if CookieStorage.cookie_name in request.COOKIES:
        return False  # messages are waiting for this visitor: let a fresh page show them
    return not (staff_sees_more and request.user.is_staff)


def may_store(request: HttpRequest, response: HttpResponse) -> bool:
    """Whether the fresh response holds nothing of this one visitor's."""
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        # A page that used the CSRF token holds this visitor's token (a form).
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        # A page that showed messages showed this visitor's.
        and not getattr(messages.get_messages(request), "used", False)
    )


class CachedPageMiddleware:
    """Answer a reader's fresh cached page before the session, CSRF, auth and messages
    middleware run: they cost more CPU than the cache lookup itself, and under load the
    CPU per request is the latency (benchmarks/web_cpu.py).

    Only the views cached_page() marks are answered here, and only what their decorator
    would answer from the cache too. A request that may be staff's on a page where staff see
    more (it carries a session cookie), a stale page or a miss goes on down the stack to the
    decorator, which renders, stores and hands out stale copies under load.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.fresh_page(request) or self.get_response(request)

    def fresh_page(self, request: HttpRequest) -> HttpResponse | None:
        try:
            staff_sees_more = getattr(resolve(request.path_info).func, MARK)
        except (Resolver404, AttributeError):
            return None  # not a cached page
        if staff_sees_more and settings.SESSION_COOKIE_NAME in request.COOKIES:
            return None  # maybe staff: the decorator reads the session
        if not may_share(request, staff_sees_more=False):
            return None
        request.get_host()  # refuses a host not in ALLOWED_HOSTS, as the full stack would
        page = recent_fresh_page(page_key(request))
        if page is None:
            return None
        response = page.response_to(request)
        response["Content-Length"] = str(len(response.content))
        if staff_sees_more:
            # What SessionMiddleware says of the decorator's pages that read the session.
            patch_vary_headers(response, ["Cookie"])
        return response


def recent_fresh_page(key: str) -> Page | None:
    """The fresh page under `key`, from this process's recent pages or the shared cache."""
    page = _recent.get(key)
    if page is None or not page.is_fresh():
        page = cache.get(key)
        if page is None or not page.is_fresh():
            return None
        if len(_recent) >= RECENT_PAGES:
            _recent.clear()  # the pages of past versions and days would pile up
        _recent[key] = page
    return page


def connect_signals() -> None:
    """Saves and deletes of what pages show (the admin, the shell, retention) retire them.

    The pipeline's bulk writes send no signals: its functions call pages_changed().
    """
    from topics.models import Article, Source, Topic, TopicCategory

    retire_on_change(Topic, Article, Source, TopicCategory)


def retire_on_change(*models: type[Model]) -> None:
    """Every save or delete of these models' rows retires the cached pages."""
    for model in models:
        uid = f"pagecache-{model.__name__}"
        post_save.connect(_on_row_change, sender=model, dispatch_uid=uid)
        post_delete.connect(_on_row_change, sender=model, dispatch_uid=uid)


def _on_row_change(**kwargs: Any) -> None:
    pages_changed()

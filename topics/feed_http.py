"""Downloading one feed safely: bounded in time, size, redirects and destinations.

feedparser never does HTTP here: it has no timeout and inflates gzip fully in memory
(shared/reference/feed-ingestion.md §0, §4.2). We stream the raw bytes with httpx and
inflate them ourselves with a hard cap, so a gzip bomb costs at most `max_bytes`.
"""

import datetime as dt
import email.utils
import functools
import ipaddress
import itertools
import socket
import ssl
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
from django.conf import settings

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
# Enough of an error page (403/429/503) to recognise a bot-protection challenge.
ERROR_PAGE_BYTES = 64 * 1024
PERMANENT_REDIRECTS = frozenset({301, 308})
# Callers cap the delay anyway; this only keeps absurd values from overflowing timedelta.
MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Limits:
    connect: float = 5.0
    # The whole fetch, checked before every hop and after every chunk of the body.
    total: float = 20.0
    # One read that gets no data at all; bounds a stalled server between deadline checks,
    # so the worst case is `total + read`.
    read: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Download:
    status: int
    url: str  # after redirects
    headers: httpx.Headers
    body: bytes = b""
    # Each redirect followed, in order: (status, the URL it pointed to).
    redirects: tuple[tuple[int, str], ...] = ()

    @property
    def permanent_target(self) -> str:
        """Where the feed moved to for good: the final URL when every hop was a 301/308,
        else "" (a 302/307 anywhere means the move may be temporary)."""
        if self.redirects and all(s in PERMANENT_REDIRECTS for s, _ in self.redirects):
            return self.url
        return ""


class FetchError(Exception):
    """The fetch failed; `str(error)` is a short sentence an editor can act on."""


def download(
    url: str, *, etag: str = "", last_modified: str = "", limits: Limits = DEFAULT_LIMITS
) -> Download:
    """GET `url` conditionally. Returns any HTTP status; raises FetchError for everything
    that is not an HTTP answer (timeouts, refused destinations, oversize bodies...).

    The body is read for 2xx answers, and its first 64 KiB for other errors (to tell a
    bot-protection challenge from a plain error).
    """
    deadline = time.monotonic() + limits.total
    headers = {
        "User-Agent": settings.DAYBRIEF_USER_AGENT,
        "Accept": ACCEPT,
        # Only what _Inflater can bound; brotli/zstd would need their own bounded decoders.
        "Accept-Encoding": "gzip, deflate",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with _client(limits, deadline) as client, client.stream("GET", url, headers=headers) as r:
            body = _read_body(r, limits, deadline) if r.status_code >= 200 else b""
            hops = [*r.history, r]
            redirects = tuple((h.status_code, str(n.url)) for h, n in itertools.pairwise(hops))
            return Download(r.status_code, str(r.url), r.headers, body, redirects)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is not an HTTPError
        raise FetchError(_describe(exc, limits)) from exc
    except UnicodeError as exc:  # the resolver refusing a host name such as "a..b"
        raise FetchError(f"invalid host name in {url}") from exc


def check_destination(url: httpx.URL) -> None:
    """Refuse non-web schemes, and hosts that resolve to a private, loopback,
    link-local or otherwise non-public address (unless DAYBRIEF_ALLOW_PRIVATE_FEEDS).

    Every address the name resolves to must be public: a name with one public and one
    private address could otherwise be steered to the private one.
    """
    check_scheme(url)
    vetted_addresses(url.host, url.port or (443 if url.scheme == "https" else 80))


def check_scheme(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https"):
        raise FetchError(f"refused: only http and https feeds are supported ({url})")


def vetted_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, all of them allowed destinations.

    The fetcher connects to exactly these addresses, so the name cannot be re-pointed
    at a private address between the check and the connection (DNS rebinding).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"could not resolve the host {host}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if settings.DAYBRIEF_ALLOW_PRIVATE_FEEDS:
        return addresses
    for address in addresses:
        if _is_public(address):
            continue
        if address == host:
            raise FetchError(f"refused: {host} is a private address")
        raise FetchError(f"refused: {host} resolves to a private address ({address})")
    return addresses


def retry_after(headers: httpx.Headers, now: dt.datetime) -> dt.timedelta | None:
    """The server's Retry-After (seconds or an HTTP date) as a delay from `now`."""
    raw: str = headers.get("retry-after", "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return dt.timedelta(seconds=min(int(raw), MAX_RETRY_AFTER_SECONDS))
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(when - now, dt.timedelta(0))


def _client(limits: Limits, deadline: float) -> httpx.Client:
    visited: set[str] = set()

    def before_each_hop(request: httpx.Request) -> None:
        # httpx calls request hooks for the first request and for every redirect.
        if time.monotonic() > deadline:
            raise FetchError(f"timed out after {limits.total:g} s")
        check_scheme(request.url)
        if str(request.url) in visited:
            raise FetchError(f"redirect loop: the server sent us back to {request.url}")
        visited.add(str(request.url))

    read = min(limits.read, limits.total)
    transport = httpx.HTTPTransport(verify=_tls_context())
    # Destinations are checked where the socket is opened, on the resolved address
    # itself; httpx offers no public hook there, so the pool's backend is swapped.
    transport._pool._network_backend = _GuardedBackend()
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(read, connect=limits.connect),
        follow_redirects=True,
        max_redirects=limits.max_redirects,
        event_hooks={"request": [before_each_hop]},
    )


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host once, refuses private addresses, connects to a vetted one."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = vetted_addresses(host, port)
        for address in addresses[:-1]:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError:
                continue  # e.g. an IPv6 address on a host without IPv6: try the next
        return super().connect_tcp(addresses[-1], port, timeout, local_address, socket_options)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~50 ms; one context is safely shared by all threads.
    return httpx.create_ssl_context()


def _read_body(response: httpx.Response, limits: Limits, deadline: float) -> bytes:
    if 200 <= response.status_code < 300:
        return _read_capped(response, limits, deadline, limits.max_bytes)
    if response.status_code not in (403, 429, 503):
        return b""
    try:
        return _read_capped(response, limits, deadline, ERROR_PAGE_BYTES, truncate=True)
    except (FetchError, httpx.HTTPError):
        return b""  # the status alone still says what happened


def _read_capped(
    response: httpx.Response,
    limits: Limits,
    deadline: float,
    max_bytes: int,
    truncate: bool = False,
) -> bytes:
    inflater = _Inflater(response.headers.get("content-encoding", ""), max_bytes, truncate)
    # iter_raw, not iter_bytes: httpx would inflate a whole network chunk before we could
    # count it (155 MB peak for a gzip bomb in the reference measurements). And no chunk
    # size: httpx would then gather 64 KiB before yielding, so a server trickling a byte
    # at a time would never reach the deadline check.
    for chunk in response.iter_raw():
        if time.monotonic() > deadline:
            raise FetchError(f"timed out after {limits.total:g} s")
        if not inflater.write(chunk):
            break
    return inflater.finish()


class _Inflater:
    """Decodes gzip/deflate (or identity) bodies, never holding more than `max_bytes`."""

    def __init__(self, content_encoding: str, max_bytes: int, truncate: bool = False) -> None:
        encoding = content_encoding.strip().lower()
        self.max_bytes = max_bytes
        # Keep the first `max_bytes` and stop, instead of failing (for error pages).
        self.truncate = truncate
        self.full = False
        self.body = bytearray()
        self._decoder: zlib._Decompress | None = None
        self._raw_deflate_fallback = False
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
            # "deflate" in the wild is sometimes raw deflate without the zlib header.
            self._raw_deflate_fallback = True
        elif encoding not in ("", "identity"):
            raise FetchError(f"unsupported content encoding {encoding!r}")

    def write(self, chunk: bytes) -> bool:
        """Take the next raw chunk; False once a truncating inflater is full."""
        if self._decoder is None:
            self._append(chunk)
            return not self.full
        while chunk and not self.full:
            room = self.max_bytes - len(self.body)
            # One byte more than fits is enough to know the body is too large.
            piece = self._decompress(chunk, room + 1)
            self._append(piece)
            chunk = self._decoder.unconsumed_tail
        return not self.full

    def finish(self) -> bytes:
        if self._decoder is not None and not self.full:
            self._append(self._decoder.flush())
        return bytes(self.body)

    def _decompress(self, chunk: bytes, max_length: int) -> bytes:
        assert self._decoder is not None
        try:
            return self._decoder.decompress(chunk, max_length)
        except zlib.error:
            if not (self._raw_deflate_fallback and not self.body):
                raise FetchError("could not decompress the response (corrupt data)") from None
            self._raw_deflate_fallback = False
            self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._decompress(chunk, max_length)

    def _append(self, piece: bytes) -> None:
        if len(self.body) + len(piece) > self.max_bytes and self.truncate:
            self.body += piece[: self.max_bytes - len(self.body)]
            self.full = True
            return
        if len(self.body) + len(piece) > self.max_bytes:
            raise FetchError(f"feed larger than {self.max_bytes / 1024 / 1024:g} MiB")
        self.body += piece


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _describe(exc: httpx.HTTPError | httpx.InvalidURL, limits: Limits) -> str:
    """Plain words for an httpx failure; the exception text is kept for the rest."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect within {limits.connect:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out: no data for {min(limits.read, limits.total):g} s"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects (more than {limits.max_redirects})"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {exc}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection before the feed was complete"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"invalid feed URL: {exc}"
    return f"fetch failed: {exc}"

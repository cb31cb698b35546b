"""Downloading one feed safely: bounded in time, size, redirects and destinations.

feedparser never does HTTP here: it has no timeout and inflates gzip fully in memory
(shared/reference/feed-ingestion.md §0, §4.2). We stream the raw bytes with httpx and
inflate them ourselves with a hard cap, so a gzip bomb costs at most `max_bytes`.
"""

import datetime as dt
import email.utils
import functools
import ipaddress
import socket
import ssl
import time
import zlib
from dataclasses import dataclass

import httpx
from django.conf import settings

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
CHUNK_BYTES = 64 * 1024
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


class FetchError(Exception):
    """The fetch failed; `str(error)` is a short sentence an editor can act on."""


def download(
    url: str, *, etag: str = "", last_modified: str = "", limits: Limits = DEFAULT_LIMITS
) -> Download:
    """GET `url` conditionally. Returns any HTTP status; raises FetchError for everything
    that is not an HTTP answer (timeouts, refused destinations, oversize bodies...).

    The body is read only for 2xx answers.
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
            body = _read_body(r, limits, deadline) if 200 <= r.status_code < 300 else b""
            return Download(r.status_code, str(r.url), r.headers, body)
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
    if url.scheme not in ("http", "https"):
        raise FetchError(f"refused: only http and https feeds are supported ({url})")
    if settings.DAYBRIEF_ALLOW_PRIVATE_FEEDS:
        return
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"could not resolve the host {host}") from None
    for info in infos:
        address = str(info[4][0])
        if _is_public(address):
            continue
        if address == host:
            raise FetchError(f"refused: {host} is a private address")
        raise FetchError(f"refused: {host} resolves to a private address ({address})")


def retry_after(headers: httpx.Headers, now: dt.datetime) -> dt.timedelta | None:
    """The server's Retry-After (seconds or an HTTP date) as a delay from `now`."""
    raw = headers.get("retry-after", "").strip()
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
    def before_each_hop(request: httpx.Request) -> None:
        # httpx calls request hooks for the first request and for every redirect.
        if time.monotonic() > deadline:
            raise FetchError(f"timed out after {limits.total:g} s")
        check_destination(request.url)

    read = min(limits.read, limits.total)
    return httpx.Client(
        verify=_tls_context(),
        timeout=httpx.Timeout(read, connect=limits.connect),
        follow_redirects=True,
        max_redirects=limits.max_redirects,
        event_hooks={"request": [before_each_hop]},
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~50 ms; one context is safely shared by all threads.
    return httpx.create_ssl_context()


def _read_body(response: httpx.Response, limits: Limits, deadline: float) -> bytes:
    inflater = _Inflater(response.headers.get("content-encoding", ""), limits.max_bytes)
    # iter_raw, not iter_bytes: httpx would inflate a whole network chunk before we could
    # count it (155 MB peak for a gzip bomb in the reference measurements).
    for chunk in response.iter_raw(CHUNK_BYTES):
        if time.monotonic() > deadline:
            raise FetchError(f"timed out after {limits.total:g} s")
        inflater.write(chunk)
    return inflater.finish()


class _Inflater:
    """Decodes gzip/deflate (or identity) bodies, never holding more than `max_bytes`."""

    def __init__(self, content_encoding: str, max_bytes: int) -> None:
        encoding = content_encoding.strip().lower()
        self.max_bytes = max_bytes
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

    def write(self, chunk: bytes) -> None:
        if self._decoder is None:
            self._append(chunk)
            return
        while chunk:
            room = self.max_bytes - len(self.body)
            # One byte more than fits is enough to know the body is too large.
            piece = self._decompress(chunk, room + 1)
            self._append(piece)
            chunk = self._decoder.unconsumed_tail

    def finish(self) -> bytes:
        if self._decoder is not None:
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

"""URL clean-up for article links: what we store, and the key we compare on.

A tiny local function rather than `courlan`/`url-normalize`: we need exactly two
operations (drop tracking parameters; build a comparison key) and neither library
does both without pulling in language detection or changing paths we want kept.
The tracking list follows Miniflux's `urlcleaner` (the most complete we read).
"""

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

WEB_SCHEMES = {"http", "https"}

# Exact parameter names that only identify a campaign or a click, never content.
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "twclid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "mkt_tok",
    "srsltid",
    "_hsenc",
    "_hsmi",
    "__hssc",
    "__hstc",
    "__hsfp",
    "_ga",
    "_gl",
    "_bhlid",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "ncid",
    "cmpid",
    "ref_src",
    "wt.mc_id",
    "__readwiselocation",
}
TRACKING_PREFIXES = ("utm_", "mtm_", "pk_")


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def web_url(url: str, base: str = "") -> str:
    """`url` made absolute against `base`; "" unless the result is http(s) with a host.

    This is the gate every stored link passes: `javascript:`, `data:` and `urn:` values
    come back empty.
    """
    url = (url or "").strip()
    if not url:
        return ""
    absolute = urljoin(base, url) if base else url
    try:
        parts = urlsplit(absolute)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return ""
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        return ""
    return absolute


def strip_tracking(url: str) -> str:
    """The same URL without tracking parameters; everything else is kept as written."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def canonical_url(url: str) -> str:
    """A comparison key for `url`, or "" when it is not an http(s) URL.

    Two links that a reader would call "the same page" get the same key: scheme
    and host case, `www.`, default ports, http vs https, fragments, a trailing slash,
    tracking parameters and parameter order are all ignored. Never fetch this URL;
    store the original for display.
    """
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        return ""
    host = _idna(parts.hostname.rstrip(".")).removeprefix("www.")
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or "/"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    )
    return urlunsplit(("https", host, path, urlencode(query), ""))


def _idna(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host

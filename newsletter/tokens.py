"""Signed tokens in confirm and unsubscribe links.

A token carries only the subscriber's primary key, signed with SECRET_KEY and a salt per
purpose, so a confirm token never works as an unsubscribe token and the other way round.
Confirm links expire; unsubscribe links never do, because RFC 8058 asks that the
List-Unsubscribe URL of any message already sent keeps working.
"""

import datetime as dt
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import reverse

from newsletter.models import Subscriber

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
# The preferences link in every email (newsletter/emails.py); like unsubscribe, it never expires.
PREFERENCES = "preferences"
PURPOSES = (CONFIRM, UNSUBSCRIBE, PREFERENCES)
CONFIRM_MAX_AGE = dt.timedelta(days=7)


def _salt(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return f"newsletter.tokens.{purpose}"


def make_token(purpose: str, subscriber_id: int) -> str:
    return signing.dumps(subscriber_id, salt=_salt(purpose))


def read_token(purpose: str, token: str) -> int | None:
    """The subscriber id in `token`, or None when it is forged, altered, expired or
    made for another purpose."""
    max_age = CONFIRM_MAX_AGE if purpose == CONFIRM else None
    try:
        value = signing.loads(token, salt=_salt(purpose), max_age=max_age)
    except signing.BadSignature:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


def confirm_url(subscriber: Subscriber) -> str:
    token = make_token(CONFIRM, subscriber.pk)
    return absolute_url(reverse("newsletter:confirm", args=[token]))


def unsubscribe_url(subscriber: Subscriber) -> str:
    token = make_token(UNSUBSCRIBE, subscriber.pk)
    return absolute_url(reverse("newsletter:unsubscribe", args=[token]))


def unsubscribe_mailto(subscriber: Subscriber) -> str:
    """A mailto: URL for List-Unsubscribe, or "" when UNSUBSCRIBE_MAILTO is unset.

    The signed token rides in the subject so whoever reads that mailbox can act on it.
    """
    if not settings.UNSUBSCRIBE_MAILTO:
        return ""
    token = make_token(UNSUBSCRIBE, subscriber.pk)
    return f"mailto:{settings.UNSUBSCRIBE_MAILTO}?subject={quote('unsubscribe ' + token)}"

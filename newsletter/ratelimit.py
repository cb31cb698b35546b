"""Signup abuse: refuse role and malformed addresses, and limit signups per IP and address.

The limits live in the database (newsletter/throttling.py), so every web process shares
them. Refusals say what to do in plain words, and never whether an address is subscribed.
"""

import datetime as dt
import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from newsletter import suppression, throttling

# Mailboxes that belong to a role, not a reader: signing them up is how lists get bombed,
# and they complain rather than unsubscribe.
ROLE_LOCAL_PARTS = frozenset(
    {
        "abuse", "admin", "administrator", "billing", "compliance", "devnull", "dns",
        "ftp", "hostmaster", "info", "inoc", "ispfeedback", "ispsupport", "list",
        "list-request", "mailer-daemon", "marketing", "noc", "no-reply", "noreply",
        "null", "phish", "phishing", "postmaster", "privacy", "registrar", "root",
        "sales", "security", "spam", "support", "sysadmin", "tech", "undisclosed-recipients",
        "unsubscribe", "usenet", "uucp", "webmaster", "www",
    }
)  # fmt: skip
HOUR = dt.timedelta(hours=1)


class SignupRefused(Exception):
    """The message to show the visitor; `retry_after` seconds when it is a rate limit."""

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def check_address(address: str) -> None:
    try:
        validate_email(address)
    except ValidationError:
        raise SignupRefused("That does not look like an email address.") from None
    local = address.rpartition("@")[0].lower().split("+")[0]
    if local in ROLE_LOCAL_PARTS:
        raise SignupRefused(
            f"“{local}@” addresses belong to a role, not a person: please use your own address."
        )


def check_rate(ip: str, address: str) -> None:
    """Take one signup from the IP's and the address's hourly allowance, or refuse.

    Both limits are taken in one transaction: a round trip less than one each. As when
    they were two, a refused IP takes nothing from the address's allowance, and a refused
    address leaves the IP's signup taken (the transaction commits before refusing).
    """
    limits = [
        (f"signup:ip:{ip}", settings.DAYBRIEF_SIGNUPS_PER_IP_HOUR),
        # Hashed: the limits table must not become a list of addresses.
        (
            f"signup:address:{suppression.address_hash(address)}",
            settings.DAYBRIEF_SIGNUPS_PER_ADDRESS_HOUR,
        ),
    ]
    with transaction.atomic():
        wait = first_refusal(limits)
    if wait:
        minutes = math.ceil(wait.total_seconds() / 60)
        raise SignupRefused(
            f"Too many signups from here just now: please try again in {minutes} minutes.",
            retry_after=math.ceil(wait.total_seconds()),
        )


def first_refusal(limits: list[tuple[str, int]]) -> dt.timedelta:
    """Take a signup from each (key, per hour) limit in turn, stopping at the first that
    refuses; how long that one says to wait (zero: none refused)."""
    for key, per_hour in limits:
        if per_hour <= 0:
            continue
        wait = throttling.reserve(key, HOUR / per_hour, burst=per_hour, wait=False)
        if wait:
            return wait
    return dt.timedelta(0)


def check_signup(ip: str, address: str) -> None:
    check_address(address)
    check_rate(ip, address)

"""What a failed call to an email provider's API (django-anymail) means for the ledger.

Anymail's request errors subclass `requests` exceptions, hence `OSError`, so they looked
like broken SMTP connections to us: retried, even a bad recipient, and even a read
timeout after the provider took the message (a duplicate). An API call has three
outcomes that matter, as an SMTP session does:

* the provider certainly did not take the message and may later (connection refused,
  429, most 5xx): retry with backoff, like an SMTP 4xx;
* it never will (a 4xx validation error, a malformed message): fail that delivery only,
  like an SMTP 5xx;
* it may have taken it (the request went out and no answer came back, or a 2xx answer we
  could not read): uncertain, never resent blindly, like a lost answer to the final dot.

A recipient the provider refuses to mail (its own suppression list: earlier hard bounces
and complaints) is settled as suppressed; an address it calls invalid fails.
"""

import enum

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from anymail.message import AnymailStatus
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from newsletter import smtp


class Outcome(enum.Enum):
    RETRY = "retry"
    FAILED = "failed"
    UNKNOWN = "unknown"


# Answers that say the provider did not take the message this time.
RETRY_STATUSES = {408, 429, 500, 502, 503}
# A gateway that gave up waiting for the provider's own server, which may have taken it.
UNKNOWN_STATUSES = {504}
# Raised while preparing the request, before anything was sent.
NEVER_SENT = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.URLRequired,
)

LOST = (
    "The email provider's API took the request but its answer never came (timeout or "
    "dropped connection): the message may have been accepted. Not resent unless an "
    "editor decides to."
)


class AnswerLost(smtp.AnswerLost):
    why = LOST


class RecipientRejected(Exception):
    """The provider refuses to mail this address (on its suppression list)."""


def check(exc: Exception, recipient: str) -> None:
    """Raise what the ledger understands for an anymail error: AnswerLost when the
    message may have gone, RecipientRejected when the provider will not mail the reader;
    other errors are left to `is_transient`."""
    if not isinstance(exc, AnymailError):
        return
    if outcome(exc) is Outcome.UNKNOWN:
        raise AnswerLost(recipient) from exc
    if rejected(exc, recipient):
        raise RecipientRejected(str(exc)) from exc


def check_accepted(status: AnymailStatus, recipient: str) -> None:
    """With ANYMAIL's IGNORE_RECIPIENT_STATUS the call succeeds even when the provider
    refused the reader; its status per recipient still says so."""
    mine = status.recipients.get(recipient)
    if mine is not None and mine.status == "rejected":
        raise RecipientRejected(f"{recipient}: rejected by the email provider")
    if mine is not None and mine.status == "invalid":
        raise AnymailRecipientsRefused(f"{recipient}: invalid, says the email provider")


def rejected(exc: AnymailError, recipient: str) -> bool:
    if not isinstance(exc, AnymailRecipientsRefused) or exc.email_message is None:
        return False
    status = exc.email_message.anymail_status.recipients.get(recipient)
    return status is not None and status.status == "rejected"


def outcome(exc: AnymailError) -> Outcome:
    """Whether the provider may take the message later, never, or maybe already did."""
    if isinstance(exc, AnymailRecipientsRefused):
        return Outcome.FAILED
    if not isinstance(exc, AnymailAPIError):
        # Invalid address, unsupported feature, unserialisable data: found before sending.
        return Outcome.FAILED
    status = answered_status(exc)
    if status is not None:
        return status_outcome(status)
    cause = exc.__cause__
    if isinstance(cause, requests.RequestException):
        return request_outcome(cause)
    # An API error without an HTTP answer (another client library, such as boto3's
    # timeouts): the request may have gone out.
    return Outcome.UNKNOWN


def answered_status(exc: AnymailAPIError) -> int | None:
    """The HTTP status the provider answered with, if any came back."""
    # Typed here because anymail ships no type hints.
    status: int | None = exc.status_code
    if status is not None:
        return status
    if isinstance(exc.response, dict):
        # botocore's error response (Amazon SES): the API did answer, with this status.
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status


def status_outcome(status: int) -> Outcome:
    if 200 <= status < 300:
        # The provider said yes, in words anymail could not parse.
        return Outcome.UNKNOWN
    if status in UNKNOWN_STATUSES:
        return Outcome.UNKNOWN
    if status in RETRY_STATUSES or status >= 500:
        return Outcome.RETRY
    return Outcome.FAILED


def request_outcome(exc: requests.RequestException) -> Outcome:
    """No HTTP answer: was the request still unsent when it failed?"""
    if isinstance(exc, NEVER_SENT):
        return Outcome.FAILED
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        # No connection (or no TLS session), so no request.
        return Outcome.RETRY
    if isinstance(exc, requests.ConnectionError) and not_connected(exc):
        return Outcome.RETRY
    # A read timeout, a connection dropped mid-request: it may have been taken.
    return Outcome.UNKNOWN


def not_connected(exc: requests.ConnectionError) -> bool:
    """requests reports a refused or unresolvable connection as a ConnectionError around
    urllib3's MaxRetryError whose reason is a connect error; a connection dropped after
    the request went out carries a ProtocolError instead."""
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, ConnectTimeoutError)


def unreported_answer(exc: Exception) -> str:
    """The provider's answer when anymail's message leaves it out (a refused recipient),
    so the ledger says what the provider said."""
    response = getattr(exc, "response", None)
    if not isinstance(exc, AnymailError) or exc.status_code is not None:
        return ""
    if not isinstance(response, requests.Response):
        return ""
    return f" (HTTP {response.status_code}: {response.text[:500]})"


def is_transient(exc: Exception) -> bool | None:
    """True/False for anymail errors (retry or fail); None when `exc` is not one."""
    if not isinstance(exc, AnymailError):
        return None
    return outcome(exc) is Outcome.RETRY

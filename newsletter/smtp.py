"""A lean SMTP client for digests: one connection per batch, and a hook before the final dot.

Two things Django's SMTP backend cannot do for us:

* Let the ledger record a delivery *just before* the final "." of DATA. A server only
  accepts a message once it reads that dot, so a worker killed before the hook ran left
  nothing behind at the server (the row can safely go back to the queue), and one killed
  after it left a row marked as handed over (shown as uncertain, never resent blindly).
  See ../shared/reference/delivery-measurements.md: this ordering is the one that gave no
  duplicate in any SIGKILL run.
* Send a body that is already CRLF-normalised and dot-stuffed. smtplib does both with two
  regular expressions per message (about 0.6 ms for 50 KB); a digest body is shared by
  thousands of readers, so we do it once per body (see `MessageTemplate`).
"""

import smtplib
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from django.conf import settings

DJANGO_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class HandoverRefused(Exception):
    """The ledger would not let this message go (another worker owns the row now)."""


class AnswerLost(Exception):
    """The final dot went out (or may have) but the server's answer never came back: the
    message may or may not have been accepted, so it must not be sent again blindly."""

    why = (
        "The server never answered the final dot (timeout or dropped connection): the "
        "message may have arrived. Not resent unless an editor decides to."
    )


def uses_smtp() -> bool:
    return settings.EMAIL_BACKEND == DJANGO_SMTP_BACKEND


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 4.5.2 transparency, for a body with CRLF line ends and no terminator."""
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


@dataclass
class SMTPConnection:
    """One SMTP session, configured like Django's backend (EMAIL_HOST, EMAIL_PORT...)."""

    client: smtplib.SMTP
    # The recipient whose envelope (MAIL, RCPT, DATA) went out with the last final dot,
    # its replies still to read: one round trip a message instead of two (RFC 2920).
    ahead: str | None = None
    # A body is written and its final dot is not: anything we send now is part of it.
    in_data: bool = False

    @classmethod
    def open(cls) -> Self:
        # None (the default) waits as long as the server takes, as Django's own backend does.
        timeout: float = settings.EMAIL_TIMEOUT  # type: ignore[assignment]
        if settings.EMAIL_USE_SSL:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.EMAIL_HOST, settings.EMAIL_PORT, timeout=timeout
            )
        else:
            client = smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT, timeout=timeout)
        # Without this, the small final "." waits for a delayed ACK: ~40 ms a message.
        assert client.sock is not None  # connected by the constructor
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.ehlo()
        if settings.EMAIL_USE_TLS:
            client.starttls()
            client.ehlo()
        if settings.EMAIL_HOST_USER:
            client.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
        return cls(client)

    def close(self) -> None:
        if self.ahead is not None or self.in_data:
            # The server waits for a body (or its end) we will not send; closing discards it.
            self.abort()
            return
        try:
            self.client.quit()
        except (smtplib.SMTPException, OSError):
            self.client.close()

    def abort(self) -> None:
        # Closing mid-DATA makes the server discard the unfinished message.
        self.ahead = None
        self.in_data = False
        self.client.close()

    def send(
        self,
        sender: str,
        recipient: str,
        stuffed: bytes,
        before_dot: Callable[[], bool],
        next_recipient: str | None = None,
    ) -> None:
        """Send one dot-stuffed message; `before_dot` runs once the body is written and
        returns False to abandon it (the connection is then closed)."""
        self.start(sender, recipient, stuffed)
        if not before_dot():
            self.abort()
            raise HandoverRefused(recipient)
        self.finish(sender, next_recipient)
        self.answer()

    def start(self, sender: str, recipient: str, stuffed: bytes) -> None:
        """The envelope and the dot-stuffed body, all but the final dot: the server has
        nothing to accept yet. Raises smtplib's exceptions with the server's reply code,
        like Django's backend would."""
        mail, rcpt, data = self._envelope(sender, recipient)
        self._expect(mail, (250,), smtplib.SMTPSenderRefused, sender)
        if rcpt[0] not in (250, 251):
            self._reset()
            raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
        if data[0] != 354:
            self._reset()
            raise smtplib.SMTPDataError(*data)
        self.in_data = True
        self.client.send(stuffed)

    def finish(self, sender: str, next_recipient: str | None = None) -> None:
        """Write the final dot: from here the server may accept the message.

        `next_recipient`, when the caller will send to that address next on this
        connection, has its envelope ride with the dot (one packet); the next `start`
        must be for that recipient.
        """
        ahead = next_recipient if self.client.has_extn("pipelining") else None
        commands = envelope(sender, ahead) if ahead else []
        self.ahead, self.in_data = ahead, False
        try:
            self.client.send(b".\r\n" + "".join(commands).encode())
        except OSError as exc:  # a reset, smtplib's SMTPServerDisconnected
            raise AnswerLost() from exc

    def answer(self) -> None:
        """Wait for the server's answer to the final dot; AnswerLost if none comes."""
        try:
            code, reply = self.client.getreply()
        except OSError as exc:  # a timeout, a reset, smtplib's SMTPServerDisconnected
            raise AnswerLost() from exc
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def _envelope(self, sender: str, recipient: str) -> list[tuple[int, bytes]]:
        """The replies to MAIL, RCPT and DATA; sent in one packet when the server
        offers PIPELINING (RFC 2920), which saves two round trips a message, or already
        sent with the previous message's final dot."""
        if self.ahead is not None:
            if self.ahead != recipient:
                self.abort()
                raise smtplib.SMTPServerDisconnected("envelope sent ahead for someone else")
            self.ahead = None
            return [self.client.getreply() for _ in range(3)]
        commands = envelope(sender, recipient)
        if not self.client.has_extn("pipelining"):
            return [self.client.docmd(command.rstrip()) for command in commands]
        self.client.send("".join(commands).encode())
        return [self.client.getreply() for _ in commands]

    def _expect(
        self, answer: tuple[int, bytes], ok: tuple[int, ...], error: type, sender: str
    ) -> None:
        code, reply = answer
        if code not in ok:
            self._reset()
            raise error(code, reply, sender)

    def _reset(self) -> None:
        try:
            self.client.rset()
        except (smtplib.SMTPException, OSError):
            self.client.close()


def envelope(sender: str, recipient: str) -> list[str]:
    return [f"MAIL FROM:<{sender}>\r\n", f"RCPT TO:<{recipient}>\r\n", "DATA\r\n"]

"""A real SMTP server on 127.0.0.1 for tests, built on aiosmtpd.

    with running_smtp_server() as server:
        use_smtp_server(settings, server)  # the pytest-django `settings` fixture
        ...send mail...
    server.messages[0].message["Subject"]

Each received message is parsed with the modern email policy, so tests can read headers
and walk the text and HTML parts exactly as a mail client would. `reject` makes the
server refuse chosen recipients with a given reply, to test permanent (5xx) and
temporary (4xx) failures over a real SMTP conversation.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded text of the text/plain ("plain") or text/html ("html") part."""
        body = self.message.get_body(preferencelist=(subtype,))
        if body is None:
            raise AssertionError(f"no text/{subtype} part")
        return body.get_content()


@dataclass
class CollectingHandler:
    reject: dict[str, str] = field(default_factory=dict)
    messages: list[ReceivedMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Offer PIPELINING (RFC 2920) as Postfix and most providers do; aiosmtpd handles
    # pipelined commands but does not announce them.
    pipelining: bool = False

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            return [responses[0], "250-PIPELINING", *responses[1:]]
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        parsed = message_from_bytes(data, policy=policy.default)
        received = ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), data, parsed)  # type: ignore[arg-type]
        with self.lock:
            self.messages.append(received)
        return "250 Message accepted for delivery"


class _EphemeralPortController(Controller):
    # aiosmtpd connects to itself on `port` to finish starting; with port 0 that is the
    # wrong port, so learn the one the OS picked first. No free-port guessing, no race.
    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class LocalSMTPServer:
    host: str
    port: int
    handler: CollectingHandler

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self.handler.lock:
            return list(self.handler.messages)


@contextmanager
def running_smtp_server(
    reject: dict[str, str] | None = None,
    handler: CollectingHandler | None = None,
    pipelining: bool = False,
) -> Iterator[LocalSMTPServer]:
    """An SMTP server on 127.0.0.1 and a port the OS picks, stopped on exit."""
    handler = handler or CollectingHandler(reject=dict(reject or {}), pipelining=pipelining)
    controller = _EphemeralPortController(handler, hostname=HOST, port=0)
    controller.start()
    try:
        yield LocalSMTPServer(HOST, controller.port, handler)
    finally:
        controller.stop()


def use_smtp_server(settings: Any, server: LocalSMTPServer) -> None:
    """Point Django's SMTP backend at `server` (pass pytest-django's `settings` fixture)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10

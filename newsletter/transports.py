"""How a batch's messages leave: our SMTP client over a few connections at once, or any
Django email backend one message at a time. Either way each message is recorded as sent
in the ledger (newsletter/ledger.py) just before it can no longer be taken back: before
the final "." of SMTP DATA, or before the backend's `send_messages`.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import parseaddr

from django.conf import settings
from django.core import mail

from newsletter import emails, esp, ledger, throttling
from newsletter.emails import RenderedEmail
from newsletter.models import Delivery, DeliveryStatus, Digest
from newsletter.prototypes import MessagePrototype, slow_message
from newsletter.smtp import AnswerLost, HandoverRefused, SMTPConnection, uses_smtp

# Tests replace this; production really waits for its throttle slot.
sleep: Callable[[float], None] = time.sleep

# A delivery's new status after sending, or None when the ledger took the row from us.
Outcome = str | None


@dataclass
class DigestBodies:
    """The digest rendered once per body, and serialised once for fast SMTP sending."""

    digest: Digest
    rendered: dict[str, RenderedEmail] = field(default_factory=dict)
    prototypes: dict[str, MessagePrototype | None] = field(default_factory=dict)

    def email(self, delivery: Delivery) -> RenderedEmail:
        key = delivery.segment
        if key not in self.rendered:
            self.rendered[key] = emails.render_segment(self.digest, key)
        return self.rendered[key]

    def prototype(self, delivery: Delivery) -> MessagePrototype | None:
        key = delivery.segment
        if key not in self.prototypes:
            self.prototypes[key] = MessagePrototype.build(self.email(delivery))
        return self.prototypes[key]


def throttled() -> bool:
    return bool(settings.DAYBRIEF_SEND_RATE or settings.DAYBRIEF_DOMAIN_RATES)


class Transport:
    def __init__(self, bodies: DigestBodies) -> None:
        self.bodies = bodies
        # Deliveries the server accepted whose leases are still to end.
        self.answered: list[int] = []

    def send_all(self, deliveries: list[Delivery]) -> Iterator[Outcome]:
        """Send each delivery (none of them suppressed or skipped); their outcomes."""
        raise NotImplementedError

    def hand_over(self, messages: list[tuple[int, str]]) -> set[int]:
        answered, self.answered = self.answered, []
        return ledger.hand_over(messages, answered)

    def end_leases(self) -> None:
        ledger.end_leases(self.answered)
        self.answered = []

    def close(self) -> None:
        """Close the connections, if any are open."""


class SMTPTransport(Transport):
    """Our SMTP client over `lanes` connections. A round starts one message on each
    (envelope and body), records them all as sent in one commit, then writes their final
    dots and reads the answers: one commit a round instead of one a message, and the
    server reads one connection's message while we write the next one's."""

    def __init__(self, bodies: DigestBodies, lanes: int) -> None:
        super().__init__(bodies)
        self.sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        self.connections: list[SMTPConnection | None] = [None] * lanes

    def send_all(self, deliveries: list[Delivery]) -> Iterator[Outcome]:
        size = len(self.connections)
        rounds = [deliveries[n : n + size] for n in range(0, len(deliveries), size)]
        for this, following in zip(rounds, [*rounds[1:], []], strict=True):
            yield from self.send_round(this, following)

    def send_round(self, deliveries: list[Delivery], following: list[Delivery]) -> list[Outcome]:
        """Delivery n of a round goes over connection n; with PIPELINING, its final dot
        carries the envelope of delivery n of the following round."""
        outcomes: dict[int, Outcome] = {}
        started: list[tuple[int, Delivery, str]] = []
        for lane, delivery in enumerate(deliveries):
            throttling.wait_for_slot(delivery.subscriber.email, sleep)
            try:
                started.append((lane, delivery, self.start(lane, delivery)))
            except Exception as exc:
                outcomes[delivery.pk] = self.failed(lane, delivery, exc)
        held = self.hand_over([(delivery.pk, message_id) for _, delivery, message_id in started])
        finished = []
        for lane, delivery, _ in started:
            if delivery.pk not in held:
                self.drop(lane)
                outcomes[delivery.pk] = None
                continue
            try:
                self.lane(lane).finish(self.sender, next_address(following, lane))
                finished.append((lane, delivery))
            except AnswerLost as exc:
                outcomes[delivery.pk] = self.failed(lane, delivery, exc)
        for lane, delivery in finished:
            outcomes[delivery.pk] = self.answer(lane, delivery)
        return list(outcomes.values())

    def start(self, lane: int, delivery: Delivery) -> str:
        """Open the message on its connection, all but the final dot; its Message-ID."""
        prototype = self.bodies.prototype(delivery)
        addressed = prototype.address(delivery.subscriber) if prototype else None
        if addressed is not None:
            data, message_id = addressed.data, addressed.message_id
        else:
            data, message_id = slow_message(self.bodies.email(delivery), delivery.subscriber)
        if self.connections[lane] is None:
            self.connections[lane] = SMTPConnection.open()
        self.lane(lane).start(self.sender, delivery.subscriber.email, data)
        return message_id

    def answer(self, lane: int, delivery: Delivery) -> Outcome:
        try:
            self.lane(lane).answer()
        except Exception as exc:
            return self.failed(lane, delivery, exc)
        self.answered.append(delivery.pk)
        return DeliveryStatus.SENT

    def failed(self, lane: int, delivery: Delivery, exc: Exception) -> Outcome:
        code = ledger.smtp_code(exc)
        if code is None or code == 421:
            # Broken, closing (421) or abandoned mid-DATA: reconnect for the next one.
            self.drop(lane)
        return ledger.settle_error(delivery, exc)

    def lane(self, lane: int) -> SMTPConnection:
        connection = self.connections[lane]
        if connection is None:
            raise HandoverRefused("the connection was dropped")
        return connection

    def drop(self, lane: int) -> None:
        connection, self.connections[lane] = self.connections[lane], None
        if connection is not None:
            connection.abort()

    def close(self) -> None:
        for lane, connection in enumerate(self.connections):
            if connection is not None:
                connection.close()
            self.connections[lane] = None


def next_address(following: list[Delivery], lane: int) -> str | None:
    """The address this connection sends to next, so its envelope can ride with this
    message's final dot. None when throttled: a message then waits for its slot, and an
    open envelope should not wait with it."""
    if lane >= len(following) or throttled():
        return None
    return following[lane].subscriber.email


class BackendTransport(Transport):
    """Django's configured backend (outbox, console, locmem, an anymail ESP). It cannot
    tell us when the message becomes final, so the row is recorded just before the hand-over."""

    def __init__(self, bodies: DigestBodies) -> None:
        super().__init__(bodies)
        self.connection = mail.get_connection()
        self.connection.open()

    def send_all(self, deliveries: list[Delivery]) -> Iterator[Outcome]:
        for delivery in deliveries:
            throttling.wait_for_slot(delivery.subscriber.email, sleep)
            try:
                self.send(delivery)
            except HandoverRefused:
                yield None
            except Exception as exc:
                self.after_error(exc)
                yield ledger.settle_error(delivery, exc)
            else:
                self.answered.append(delivery.pk)
                yield DeliveryStatus.SENT

    def send(self, delivery: Delivery) -> None:
        message = emails.digest_message(self.bodies.email(delivery), delivery.subscriber)
        handed = [(delivery.pk, message.extra_headers["Message-ID"])]
        if delivery.pk not in self.hand_over(handed):
            raise HandoverRefused(delivery.subscriber.email)
        try:
            sent = self.connection.send_messages([message])
        except Exception as exc:
            esp.check(exc, delivery.subscriber.email)
            raise
        if sent != 1:
            raise RuntimeError("The email backend accepted no message.")
        status = getattr(message, "anymail_status", None)
        if status is not None:
            esp.check_accepted(status, delivery.subscriber.email)
        if status is not None and status.message_id is not None:
            # An ESP's own id is what its webhooks will quote back to us.
            Delivery.objects.filter(pk=delivery.pk).update(message_id=str(status.message_id))

    def after_error(self, exc: Exception) -> None:
        code = ledger.smtp_code(exc)
        if (code is None and isinstance(exc, OSError)) or code == 421:
            # Reopened at once: a closed anymail backend would open (and close) a
            # session per message for the rest of the batch.
            with suppress(Exception):
                self.connection.close()
                self.connection.open()

    def close(self) -> None:
        with suppress(Exception):
            self.connection.close()


@contextmanager
def open_transport(bodies: DigestBodies) -> Iterator[Transport]:
    transport: Transport
    if not uses_smtp():
        transport = BackendTransport(bodies)
    else:
        # A throttled message waits for its slot; the others' open bodies should not.
        lanes = 1 if throttled() else settings.DAYBRIEF_SEND_CONNECTIONS
        transport = SMTPTransport(bodies, lanes)
    try:
        yield transport
    finally:
        transport.end_leases()
        transport.close()

"""A local HTTP server answering like Postmark's email API, for anymail's real backend.

    with EspServer() as esp:
        esp.answer("bad@example.com", 422, {"ErrorCode": 300, "Message": "..."})
        use_esp_server(settings, esp)  # anymail.backends.postmark with API_URL = esp.url
        send_digest(...)
        esp.accepted  # the recipients whose message the server took, in order

Every POST /email is recorded with its JSON body. By default the server takes the
message and answers 200 with a Postmark MessageID. Per recipient it can answer another
status, take the message and then never answer (`hang`: the client's read timeout ends
it), or read it and close the connection without a word (`hang_up`).
"""

import json
import threading
import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler

from tests.loopback import LoopbackServer


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    accept: bool = False  # the provider took the message despite what follows
    hang: bool = False
    hang_up: bool = False


def postmark_ok(recipient: str) -> dict:
    return {
        "To": recipient,
        "SubmittedAt": "2026-11-26T07:00:00Z",
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }


class EspServer(LoopbackServer):
    def __init__(self) -> None:
        self.posted: list[dict] = []
        self.accepted: list[str] = []
        self.message_ids: dict[str, str] = {}
        self._answers: dict[str, Answer] = {}
        self._lock = threading.Lock()
        super().__init__(_make_handler(self))

    @property
    def url(self) -> str:
        return f"{self.base_url}/"

    def answer(self, recipient: str, status: int, body: dict | None = None) -> None:
        """Refuse `recipient`'s messages with this status and (Postmark) JSON body."""
        self._set(recipient, Answer(status, body or {"ErrorCode": 0, "Message": "error"}))

    def hang(self, recipient: str) -> None:
        """Take `recipient`'s message, then answer nothing until the server stops."""
        self._set(recipient, Answer(200, {}, accept=True, hang=True))

    def hang_up(self, recipient: str) -> None:
        """Take `recipient`'s message, then close the connection without answering."""
        self._set(recipient, Answer(200, {}, accept=True, hang_up=True))

    def forget(self, recipient: str) -> None:
        """Answer `recipient` normally again."""
        self._set(recipient, None)

    def _set(self, recipient: str, answer: Answer | None) -> None:
        with self._lock:
            if answer is None:
                self._answers.pop(recipient, None)
            else:
                self._answers[recipient] = answer

    def _take(self, payload: dict) -> tuple[Answer, dict]:
        recipient = parseaddr(payload.get("To", ""))[1]
        with self._lock:
            self.posted.append(payload)
            answer = self._answers.get(recipient)
            if answer is None or answer.accept:
                self.accepted.append(recipient)
            if answer is not None:
                return answer, answer.body
            body = postmark_ok(recipient)
            self.message_ids[recipient] = body["MessageID"]
            return Answer(200, body), body


def _make_handler(server: EspServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            payload = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/email":
                self._respond(404, {"ErrorCode": 404, "Message": "no such endpoint"})
                return
            answer, body = server._take(payload)
            if answer.hang:
                server.released.wait()
                self.close_connection = True
                return
            if answer.hang_up:
                self.close_connection = True
                return
            self._respond(answer.status, body)

        def _respond(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return _Handler


def use_esp_server(settings, server: EspServer, timeout: float = 0.5) -> None:
    """Send through anymail's real Postmark backend to `server`, with a short read timeout
    so a hanging server costs the test half a second."""
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        "POSTMARK_SERVER_TOKEN": "test-token",
        "POSTMARK_API_URL": server.url,
        "REQUESTS_TIMEOUT": timeout,
    }

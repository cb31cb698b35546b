"""The pluggable summarizer against a local server that speaks OpenAI's chat-completions shape."""

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from tests.factories import make_article
from tests.test_enrichment import make_wire_topic
from topics.enrichment import enrich_topics
from topics.models import Topic
from topics.summarize import write_card_text
from topics.summarizers import (
    ChatSummarizer,
    ExtractiveSummarizer,
    configured_summarizer,
    parse_card,
)

HEADLINE = "Harbour bridge approved"
ARTICLES = [("The Ledger", "Council approves the harbour bridge")]
BODIES = [
    "The city council approved the new harbour bridge on Monday evening after a long debate. "
    "Construction of the harbour bridge will start next spring and take three years."
]
GOOD_ANSWER = {"dek": "The council approved the bridge.", "summary": "Work starts next spring."}

Reply = Callable[[dict[str, object]], tuple[int, bytes]]


def completion(content: str) -> bytes:
    return json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": content}}]}
    ).encode()


class ChatServer:
    """127.0.0.1 server answering POST /v1/chat/completions with `reply(request_json)`."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[tuple[dict[str, str], dict[str, object]]] = []
        self.released = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "ChatServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length))
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((headers, payload))
                if self.path != "/v1/chat/completions":
                    status, body = 404, b"{}"
                else:
                    status, body = server.reply(payload)
                if status == 0:  # a stalled model: answer nothing until the test ends
                    server.released.wait()
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def chat() -> Iterator[Callable[[Reply], ChatServer]]:
    servers: list[ChatServer] = []

    def start(reply: Reply) -> ChatServer:
        servers.append(ChatServer(reply).__enter__())
        return servers[-1]

    yield start
    for server in servers:
        server.__exit__()


def summarizer_for(server: ChatServer, timeout: float = 5.0) -> ChatSummarizer:
    return ChatSummarizer(server.base_url, "test-model", "sk-test", timeout)


def test_the_model_writes_the_dek_and_summary(chat: Callable[[Reply], ChatServer]) -> None:
    server = chat(lambda payload: (200, completion(json.dumps(GOOD_ANSWER))))
    card = summarizer_for(server).write(HEADLINE, ARTICLES, BODIES)
    assert (card.dek, card.summary) == (GOOD_ANSWER["dek"], GOOD_ANSWER["summary"])
    headers, payload = server.requests[0]
    assert headers["authorization"] == "Bearer sk-test"
    assert payload["model"] == "test-model"
    messages = payload["messages"]
    assert isinstance(messages, list) and messages[0]["role"] == "system"
    # The model sees the headline, the source and the article's text.
    assert HEADLINE in messages[1]["content"] and "The Ledger" in messages[1]["content"]


def test_a_server_error_falls_back_to_the_extractive_text(
    chat: Callable[[Reply], ChatServer],
) -> None:
    server = chat(lambda payload: (500, b'{"error": "overloaded"}'))
    card = summarizer_for(server).write(HEADLINE, ARTICLES, BODIES)
    assert card == write_card_text(HEADLINE, BODIES)


def test_a_timeout_falls_back_and_the_run_stops_asking(
    chat: Callable[[Reply], ChatServer],
) -> None:
    server = chat(lambda payload: (0, b""))
    summarizer = summarizer_for(server, timeout=0.2)
    assert summarizer.write(HEADLINE, ARTICLES, BODIES) == write_card_text(HEADLINE, BODIES)
    assert summarizer.write(HEADLINE, ARTICLES, BODIES) == write_card_text(HEADLINE, BODIES)
    # An outage costs one timeout per run, not one per topic.
    assert len(server.requests) == 1


def test_an_answer_that_is_not_the_json_asked_for_falls_back(
    chat: Callable[[Reply], ChatServer],
) -> None:
    server = chat(lambda payload: (200, completion("Sure! Here is a summary of the topic.")))
    card = summarizer_for(server).write(HEADLINE, ARTICLES, BODIES)
    assert card == write_card_text(HEADLINE, BODIES)


def test_markup_in_the_answer_reaches_the_card_as_plain_text() -> None:
    card = parse_card(
        '```json\n{"dek": "<b>Bridge</b> <script>alert(1)</script>approved.", "summary": ""}\n```'
    )
    assert card.dek == "Bridge approved."


def test_without_a_url_the_extractive_summarizer_is_used() -> None:
    assert isinstance(configured_summarizer(), ExtractiveSummarizer)


@pytest.mark.django_db
def test_enrichment_uses_the_configured_model(chat: Callable[[Reply], ChatServer]) -> None:
    server = chat(lambda payload: (200, completion(json.dumps(GOOD_ANSWER))))
    topic, _ = make_wire_topic()
    with override_settings(DAYBRIEF_SUMMARIZER_URL=server.base_url):
        enrich_topics([topic.pk])
    topic.refresh_from_db()
    assert (topic.dek, topic.summary) == (GOOD_ANSWER["dek"], GOOD_ANSWER["summary"])


@pytest.mark.django_db
def test_enrichment_keeps_an_editors_dek_and_summary_without_asking_the_model(
    chat: Callable[[Reply], ChatServer],
) -> None:
    server = chat(lambda payload: (200, completion(json.dumps(GOOD_ANSWER))))
    topic = Topic.objects.create(
        dek="Editor's dek.", summary="Editor's summary.", edited_fields=["dek", "summary"]
    )
    make_article(topic=topic, title="Bridge approved", text="The council approved the bridge.")
    with override_settings(DAYBRIEF_SUMMARIZER_URL=server.base_url):
        enrich_topics([topic.pk])
    topic.refresh_from_db()
    assert (topic.dek, topic.summary) == ("Editor's dek.", "Editor's summary.")
    assert server.requests == []

"""Who writes a topic's dek and summary: extractive by default, or an OpenAI-compatible model.

An operator turns the model on with DAYBRIEF_SUMMARIZER_URL (the API base, e.g.
"https://api.openai.com/v1" or a local server's "/v1"). Any failure (timeout, HTTP error,
an answer that is not the JSON asked for) falls back to the extractive text, and after the
first failure a run stops asking, so an outage costs one timeout, not one per topic.
"""

import json
import logging
import re
from typing import Protocol

import httpx
from django.conf import settings

from topics.summarize import DEK_CHARS, SUMMARY_CHARS, CardText, shorten, write_card_text
from topics.text import collapse_whitespace, html_to_text

logger = logging.getLogger(__name__)

# What the model sees of each article, and of how many.
PROMPT_ARTICLES = 8
PROMPT_BODY_CHARS = 1500
SYSTEM_PROMPT = (
    "You write the card for one news topic in a daily digest. Use only facts stated in the "
    "articles. Reply with a JSON object and nothing else: "
    '{"dek": "<one sentence, at most 200 characters, that says what happened>", '
    '"summary": "<one paragraph of two to four sentences that adds context beyond the dek>"}'
)


class Summarizer(Protocol):
    def write(self, headline: str, articles: list[tuple[str, str]], bodies: list[str]) -> CardText:
        """`articles` are (source name, title) pairs, `bodies` their clean texts, lead first."""
        ...


class ExtractiveSummarizer:
    def write(self, headline: str, articles: list[tuple[str, str]], bodies: list[str]) -> CardText:
        return write_card_text(headline, bodies)


class ChatSummarizer:
    """An OpenAI-compatible chat-completions endpoint, with the extractive text as fallback."""

    def __init__(self, base_url: str, model: str, api_key: str, timeout: float) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key, self.timeout = model, api_key, timeout
        self.fallback = ExtractiveSummarizer()
        self.failed = False

    def write(self, headline: str, articles: list[tuple[str, str]], bodies: list[str]) -> CardText:
        extractive = self.fallback.write(headline, articles, bodies)
        if self.failed:
            return extractive
        try:
            return self._ask(headline, articles, bodies)
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
            self.failed = True
            logger.warning("Summarizer at %s failed, using extractive text: %r", self.url, error)
            return extractive

    def _ask(self, headline: str, articles: list[tuple[str, str]], bodies: list[str]) -> CardText:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        payload = {
            "model": self.model,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt(headline, articles, bodies)},
            ],
        }
        response = httpx.post(
            self.url, json=payload, headers=headers, timeout=self.timeout, follow_redirects=False
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        return parse_card(content)


def configured_summarizer() -> Summarizer:
    if not settings.DAYBRIEF_SUMMARIZER_URL:
        return ExtractiveSummarizer()
    return ChatSummarizer(
        settings.DAYBRIEF_SUMMARIZER_URL,
        settings.DAYBRIEF_SUMMARIZER_MODEL,
        settings.DAYBRIEF_SUMMARIZER_API_KEY,
        float(settings.DAYBRIEF_SUMMARIZER_TIMEOUT),
    )


def prompt(headline: str, articles: list[tuple[str, str]], bodies: list[str]) -> str:
    parts = [f"Topic headline: {headline}"]
    pairs = list(zip(articles, bodies, strict=True))[:PROMPT_ARTICLES]
    for n, ((source, title), body) in enumerate(pairs, start=1):
        parts.append(f"Article {n} ({source}): {title}\n{body[:PROMPT_BODY_CHARS]}")
    return "\n\n".join(parts)


def parse_card(content: str) -> CardText:
    """The model's JSON answer as plain text; ValueError when it is not what was asked for."""
    match = re.search(r"\{.*\}", content, re.DOTALL)  # tolerate code fences around the JSON
    if match is None:
        raise ValueError("no JSON object in the answer")
    data = json.loads(match.group())
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    dek, summary = _plain(data.get("dek")), _plain(data.get("summary"))
    if not dek:
        raise ValueError("the answer has no dek")
    return CardText(shorten(dek, DEK_CHARS), shorten(summary, SUMMARY_CHARS))


def _plain(value: object) -> str:
    # Model output reaches pages and emails: treat it like feed text, never as markup.
    return collapse_whitespace(html_to_text(value)) if isinstance(value, str) else ""

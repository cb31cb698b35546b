"""Named emails: templates/emails/<name>/{subject.txt, body.txt, body.mjml}.

`render_email` is the one function that renders a named email; each kind of email is a
short function on top. The digest is rendered (and its MJML compiled) once per issue and
preference segment: each reader's own links go in afterwards by plain string replacement
of placeholders, which costs microseconds per recipient.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import make_msgid, parseaddr
from functools import cached_property
from typing import cast

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, Template
from django.template.backends.django import Template as BackendTemplate
from django.template.loader import get_template, render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape

from newsletter import cards as digest_cards
from newsletter import tokens
from newsletter.cards import Card
from newsletter.digests import digest_subject
from newsletter.mjml import compile_mjml
from newsletter.models import Delivery, Digest, Subscriber
from newsletter.segments import Segment, default_segment, segment_for

# Only word characters, so neither template escaping, MJML nor MIME encoding changes them.
UNSUBSCRIBE_PLACEHOLDER = "__DAYBRIEF_UNSUBSCRIBE_URL__"
PREFERENCES_PLACEHOLDER = "__DAYBRIEF_PREFERENCES_URL__"
# Gmail clips HTML past about 102 KB, hiding the footer and its unsubscribe link. Stay
# under 90 KB after the reader's own links (each a little longer than its placeholder)
# and any link rewriting an email provider adds.
HTML_BUDGET = 90_000
PERSONAL_LINKS_ROOM = 2_000
# Stylesheet inlined into every email's HTML (see newsletter/mjml.py).
CRITICAL_CSS = "emails/critical.css"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str

    def personalize(self, values: Mapping[str, str]) -> "RenderedEmail":
        """A copy with each placeholder replaced: as is in subject and text, escaped in HTML."""
        subject, text, html = self.subject, self.text, self.html
        for placeholder, value in values.items():
            subject = subject.replace(placeholder, value)
            text = text.replace(placeholder, value)
            html = html.replace(placeholder, escape(value))
        return RenderedEmail(subject, text, html)


def render_email(name: str, context: Mapping[str, object]) -> RenderedEmail:
    full_context = {**base_context(), **context}
    subject = " ".join(_render_plain(f"emails/{name}/subject.txt", full_context).split())
    text = _render_plain(f"emails/{name}/body.txt", full_context)
    # Template logic leaves runs of blank lines behind; one blank line is enough.
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    source = render_to_string(f"emails/{name}/body.mjml", full_context)
    html = compile_mjml(source, name=f"emails/{name}/body.mjml", inline_css=critical_css())
    return RenderedEmail(subject, text, html)


def base_context() -> dict[str, object]:
    return {
        "site_url": settings.SITE_URL,
        "postal_address": settings.POSTAL_ADDRESS,
        "subscribe_url": tokens.absolute_url(reverse("newsletter:subscribe")),
    }


def _engine_template(template_name: str) -> Template:
    # The project runs only the Django template engine, whose wrapper holds the template.
    return cast(BackendTemplate, get_template(template_name)).template


def critical_css() -> str:
    return _engine_template(CRITICAL_CSS).source


def _render_plain(template_name: str, context: Mapping[str, object]) -> str:
    # Subjects and text bodies are not HTML: escaping would show "&amp;" to the reader.
    template = _engine_template(template_name)
    return template.render(Context(dict(context), autoescape=False))


def build_message(
    email: RenderedEmail, to: str, headers: Mapping[str, str] | None = None
) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        email.subject, email.text, settings.DEFAULT_FROM_EMAIL, [to], headers=dict(headers or {})
    )
    message.attach_alternative(email.html, "text/html")
    return message


def sender_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "daybrief.localhost"


def preferences_url(subscriber: Subscriber) -> str:
    """The reader's signed link to their preferences page.

    The page is `newsletter:preferences`; until that route exists the link uses the path
    it is agreed to have, so emails already sent keep working once it does.
    """
    token = tokens.make_token(tokens.PREFERENCES, subscriber.pk)
    try:
        path = reverse("newsletter:preferences", args=[token])
    except NoReverseMatch:
        path = f"/preferences/{token}/"
    return tokens.absolute_url(path)


# --- Subscription emails -----------------------------------------------------


def confirm_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    # Nothing the visitor typed (such as a name) is echoed: the form must not become a
    # way to send arbitrary text to arbitrary addresses.
    context = {
        "confirm_url": tokens.confirm_url(subscriber),
        "expires_days": tokens.CONFIRM_MAX_AGE.days,
    }
    return build_message(render_email("confirm", context), subscriber.email)


def preferences_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    """The reader's preferences link, mailed when they ask for it."""
    context = {
        "preferences_url": preferences_url(subscriber),
        "unsubscribe_url": tokens.unsubscribe_url(subscriber),
    }
    return build_message(render_email("preferences", context), subscriber.email)


def goodbye_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    return build_message(render_email("goodbye", {}), subscriber.email)


# --- The digest ----------------------------------------------------------------


def render_digest(
    digest: Digest, segment: Segment | None = None, pool: list[Card] | None = None
) -> RenderedEmail:
    """The digest for every reader in `segment` (by default, readers who never changed
    their preferences), with placeholders where each reader's own links go.

    `pool` is the digest's cards when the caller has them already. The HTML stays within
    HTML_BUDGET whatever the day: if the cards ever do not fit, the last ones move to the
    "more on the web" link.
    """
    segment = segment or default_segment()
    pool = digest_cards.digest_cards(digest) if pool is None else pool
    chosen = segment.select(pool)
    while True:
        email = render_email("digest", digest_context(digest, pool, chosen))
        if fits_budget(email.html) or len(chosen) <= 1:
            return email
        chosen = chosen[:-1]


def render_segment(digest: Digest, key: str, pool: list[Card] | None = None) -> RenderedEmail:
    """The digest for the readers of segment `key` (a Delivery's `segment`; "" for the
    default segment)."""
    return render_digest(digest, Segment.from_key(key) if key else None, pool)


def fits_budget(html: str) -> bool:
    return len(html.encode()) + PERSONAL_LINKS_ROOM <= HTML_BUDGET


def digest_context(digest: Digest, pool: list[Card], chosen: list[Card]) -> dict[str, object]:
    return {
        "digest": digest,
        "subject": digest_subject(digest.date, [card.topic for card in chosen]),
        "cards": chosen,
        "story_count": len(chosen),
        "day_count": len(pool),
        "more_count": len(pool) - len(chosen),
        "updated_count": sum(card.is_update for card in chosen),
        "preheader": digest_cards.preheader(chosen),
        "archive_url": tokens.absolute_url(digest.get_absolute_url()),
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
        "preferences_url": PREFERENCES_PLACEHOLDER,
    }


class RenderedSegments(dict[str, RenderedEmail]):
    """A digest's rendered emails by segment key, each rendered the first time it is asked
    for: sending never renders a segment nobody in its batches is in."""

    def __init__(self, digest: Digest) -> None:
        super().__init__()
        self.digest = digest

    @cached_property
    def pool(self) -> list[Card]:
        return digest_cards.digest_cards(self.digest)

    def __missing__(self, key: str) -> RenderedEmail:
        email = render_segment(self.digest, key, self.pool)
        self[key] = email
        return email


def message_for(delivery: Delivery, rendered: RenderedSegments) -> EmailMultiAlternatives:
    """The message for one delivery: its segment's body, with the reader's own links."""
    key = delivery.segment or segment_for(delivery.subscriber).key
    return digest_message(rendered[key], delivery.subscriber)


def digest_message(email: RenderedEmail, subscriber: Subscriber) -> EmailMultiAlternatives:
    """The rendered digest addressed to one subscriber, with their own links and the
    List-Unsubscribe headers (RFC 2369, RFC 8058 one-click)."""
    url = tokens.unsubscribe_url(subscriber)
    targets = [f"<{url}>"]
    mailto = tokens.unsubscribe_mailto(subscriber)
    if mailto:
        targets.append(f"<{mailto}>")
    headers = {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"Daybrief digest <digest.{sender_domain()}>",
        # Chosen here, not by the backend, so the ledger can record it.
        "Message-ID": make_msgid(domain=sender_domain()),
    }
    personal = email.personalize(
        {UNSUBSCRIBE_PLACEHOLDER: url, PREFERENCES_PLACEHOLDER: preferences_url(subscriber)}
    )
    return build_message(personal, subscriber.email, headers)

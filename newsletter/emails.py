"""Named emails: templates/emails/<name>/{subject.txt, body.txt, body.mjml}.

`render_email` is the one function that renders a named email; each kind of email is a
short function on top. The digest is rendered (and its MJML compiled) once per issue:
per-recipient values such as the unsubscribe link go in afterwards by plain string
replacement of placeholders, which costs microseconds per recipient.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.text import Truncator

from newsletter import tokens
from newsletter.mjml import compile_mjml
from newsletter.models import Digest, Subscriber
from topics.models import Topic

# Only word characters, so neither template escaping, MJML nor MIME encoding changes it.
UNSUBSCRIBE_PLACEHOLDER = "__DAYBRIEF_UNSUBSCRIBE_URL__"

# Badge colours by importance, the same as the site's light theme (static/daybrief.css).
IMPORTANCE_COLOURS = {
    1: ("#e8e8e8", "#2b2b2b"),
    2: ("#dcebff", "#123a75"),
    3: ("#fff0c2", "#5c4100"),
    4: ("#ffe0c7", "#7a2e00"),
    5: ("#ffd6d6", "#8a0d0d"),
}


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
    html = compile_mjml(source, name=f"emails/{name}/body.mjml")
    return RenderedEmail(subject, text, html)


def base_context() -> dict[str, object]:
    return {
        "site_url": settings.SITE_URL,
        "postal_address": settings.POSTAL_ADDRESS,
        "subscribe_url": tokens.absolute_url(reverse("newsletter:subscribe")),
    }


def _render_plain(template_name: str, context: Mapping[str, object]) -> str:
    # Subjects and text bodies are not HTML: escaping would show "&amp;" to the reader.
    template = get_template(template_name).template  # type: ignore[attr-defined]
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


# --- Subscription emails -----------------------------------------------------


def confirm_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    # Nothing the visitor typed (such as a name) is echoed: the form must not become a
    # way to send arbitrary text to arbitrary addresses.
    context = {
        "confirm_url": tokens.confirm_url(subscriber),
        "expires_days": tokens.CONFIRM_MAX_AGE.days,
    }
    return build_message(render_email("confirm", context), subscriber.email)


def goodbye_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    return build_message(render_email("goodbye", {}), subscriber.email)


# --- The digest ----------------------------------------------------------------


def render_digest(digest: Digest) -> RenderedEmail:
    """The digest for every recipient, with UNSUBSCRIBE_PLACEHOLDER where their link goes."""
    topics = digest.ranked_topics()
    context = {
        "digest": digest,
        "cards": [topic_card(topic) for topic in topics],
        "story_count": len(topics),
        "preheader": preheader(topics),
        "archive_url": tokens.absolute_url(digest.get_absolute_url()),
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
    }
    return render_email("digest", context)


def topic_card(topic: Topic) -> dict[str, object]:
    lead = topic.lead_article
    badge_bg, badge_fg = IMPORTANCE_COLOURS.get(topic.importance, IMPORTANCE_COLOURS[1])
    return {
        "topic": topic,
        "url": tokens.absolute_url(topic.get_absolute_url()),
        "lead_url": lead.url if lead else "",
        "lead_source": lead.source.name if lead else "",
        "badge_bg": badge_bg,
        "badge_fg": badge_fg,
    }


def preheader(topics: list[Topic]) -> str:
    """The inbox preview line: the top headlines, the first ones within ~90 characters."""
    if not topics:
        return "No new stories today."
    headlines = " · ".join(str(topic) for topic in topics[:3])
    return Truncator(headlines).chars(110)


def digest_message(email: RenderedEmail, subscriber: Subscriber) -> EmailMultiAlternatives:
    """The rendered digest addressed to one subscriber, with their unsubscribe link and
    the List-Unsubscribe headers (RFC 2369, RFC 8058 one-click)."""
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
    personal = email.personalize({UNSUBSCRIBE_PLACEHOLDER: url})
    return build_message(personal, subscriber.email, headers)

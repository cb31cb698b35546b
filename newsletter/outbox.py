"""The local outbox: an email backend that keeps every message as an .eml file under
settings.OUTBOX_DIR, and two staff pages to read them.

It is the default backend of a fresh clone, so a developer can see exactly what readers
would get (headers, text part, HTML part) without any mail server.
"""

import os
import re
import secrets
import tempfile
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage as ParsedMessage
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

# Names this backend writes: a sortable timestamp, a random suffix, ".eml". Anything
# else (a slash, "..", a hidden file) is refused before the file system is touched.
MESSAGE_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]*\.eml$")
INDEX_LIMIT = 500


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                write_message(outbox_dir(), message.message().as_bytes())
            except OSError:
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent


def outbox_dir() -> Path:
    return Path(settings.OUTBOX_DIR)


def write_message(outbox: Path, data: bytes) -> Path:
    """Write one message atomically: readers see the whole file or none of it."""
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{timezone.now():%Y%m%d-%H%M%S-%f}-{secrets.token_hex(4)}.eml"
    fd, temporary = tempfile.mkstemp(dir=outbox, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_message(path: Path, headers_only: bool = False) -> ParsedMessage:
    with path.open("rb") as file:
        message = BytesParser(policy=policy.default).parse(file, headersonly=headers_only)
    return message


def message_path(name: str) -> Path:
    """The outbox file called `name`; Http404 for anything outside the outbox."""
    if not MESSAGE_NAME.fullmatch(name):
        raise Http404("No such message.")
    outbox = outbox_dir().resolve()
    path = (outbox / name).resolve()
    if path.parent != outbox or not path.is_file():
        raise Http404("No such message.")
    return path


def summarize(path: Path) -> dict[str, object]:
    headers = read_message(path, headers_only=True)
    date = headers["Date"]
    return {
        "name": path.name,
        "date": getattr(date, "datetime", None) or date,
        "to": headers["To"],
        "subject": headers["Subject"],
    }


@staff_member_required
def outbox_index(request: HttpRequest) -> HttpResponse:
    outbox = outbox_dir()
    paths = sorted(outbox.glob("*.eml"), reverse=True) if outbox.is_dir() else []
    context = {
        "messages": [summarize(path) for path in paths[:INDEX_LIMIT]],
        "total": len(paths),
        "limit": INDEX_LIMIT,
        "outbox": outbox,
    }
    return render(request, "newsletter/outbox_index.html", context)


@staff_member_required
def outbox_message(request: HttpRequest, name: str) -> HttpResponse:
    message = read_message(message_path(name))
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    html = html_part.get_content() if html_part else ""
    # Links clicked inside the sandboxed frame open in a new tab, not inside the frame.
    html = html.replace("<head>", '<head><base target="_blank">', 1)
    context = {
        "name": name,
        "headers": list(message.items()),
        "subject": message["Subject"],
        "html": html,
        "text": text_part.get_content() if text_part else "",
    }
    return render(request, "newsletter/outbox_message.html", context)

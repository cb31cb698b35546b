import datetime as dt
from email import message_from_bytes, policy

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives, get_connection
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse

from newsletter import outbox

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def staff_client(client):
    staff = User.objects.create_user("editor", "editor@example.com", "pw", is_staff=True)
    client.force_login(staff)
    return client


def send_to_outbox(subject: str, to: str = "alice@example.com", html: str = "") -> int:
    message = EmailMultiAlternatives(subject, f"Text of {subject}", "from@example.com", [to])
    if html:
        message.attach_alternative(html, "text/html")
    connection = get_connection("newsletter.outbox.OutboxEmailBackend")
    return connection.send_messages([message])


def eml_files(settings) -> list:
    return sorted(settings.OUTBOX_DIR.glob("*.eml"))


def test_backend_writes_each_message_as_a_readable_eml_file(settings):
    assert send_to_outbox("Hello", html="<p>Hi <b>there</b></p>") == 1
    [path] = eml_files(settings)
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Hello"
    assert message["To"] == "alice@example.com"
    assert message.get_body(("plain",)).get_content().strip() == "Text of Hello"
    assert "<b>there</b>" in message.get_body(("html",)).get_content()


def test_backend_leaves_no_partial_files_behind(settings):
    send_to_outbox("One")
    send_to_outbox("Two")
    assert [p.suffix for p in settings.OUTBOX_DIR.iterdir()] == [".eml", ".eml"]


def test_backend_skips_messages_without_recipients(settings):
    connection = get_connection("newsletter.outbox.OutboxEmailBackend")
    assert connection.send_messages([EmailMultiAlternatives("Nobody", "x", "f@example.com")]) == 0
    assert eml_files(settings) == []


def test_index_lists_messages_newest_first(staff_client):
    with time_machine.travel(NOW, tick=False):
        send_to_outbox("Older", to="old@example.com")
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        send_to_outbox("Newer", to="new@example.com")
    response = staff_client.get(reverse("outbox_index"))
    assert response.status_code == 200
    content = response.content.decode()
    assert content.index("Newer") < content.index("Older")
    assert "new@example.com" in content


def test_index_of_an_empty_outbox_says_so(staff_client):
    response = staff_client.get(reverse("outbox_index"))
    assert b"No email yet." in response.content


def test_message_page_shows_the_html_in_a_sandboxed_frame_and_the_text(staff_client, settings):
    send_to_outbox(
        "Digest", html='<html><head></head><body><p class="x">Hi &amp; bye</p></body></html>'
    )
    [path] = eml_files(settings)
    response = staff_client.get(reverse("outbox_message", args=[path.name]))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in content
    # The HTML travels escaped inside srcdoc, so it cannot break out of the attribute.
    assert 'srcdoc="&lt;html&gt;&lt;head&gt;&lt;base target=&quot;_blank&quot;&gt;' in content
    assert "&lt;p class=&quot;x&quot;&gt;Hi &amp;amp; bye" in content
    assert "Text of Digest" in content


def test_message_page_refuses_names_outside_the_outbox(rf: RequestFactory, settings):
    staff = User.objects.create_user("editor", is_staff=True)
    send_to_outbox("Digest")
    secret = settings.OUTBOX_DIR.parent / "secret.eml"
    secret.write_text("Subject: secret\n\nsecret")
    request = rf.get("/")
    request.user = staff
    for name in ["../secret.eml", "..", ".hidden.eml", "x/../../secret.eml", "missing.eml"]:
        with pytest.raises(Http404):
            outbox.outbox_message(request, name)


def test_outbox_pages_are_for_staff_only(client, settings):
    send_to_outbox("Digest")
    [path] = eml_files(settings)
    for url in [reverse("outbox_index"), reverse("outbox_message", args=[path.name])]:
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command

from newsletter.models import Delivery, DeliveryStatus, Digest, Subscriber, SubscriberStatus
from tests.factories import make_article, make_subscriber, make_topic

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def make_story_on(day_time: dt.datetime) -> None:
    article = make_article(title="Rates cut", first_seen_at=day_time)
    make_topic([article], headline="Rates cut", score=1, article_count=1, lead_article=article)


def test_build_digest_builds_the_given_day_once():
    make_story_on(NOW)
    make_subscriber()
    out, _ = run("build_digest", "--date", "2026-11-26")
    assert "1 topics, 1 deliveries (1 pending)" in out
    assert "Subject: Daybrief for Thu 26 Nov: Rates cut" in out
    run("build_digest", "--date", "2026-11-26")
    assert Digest.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_build_digest_defaults_to_today():
    run("build_digest")
    assert Digest.objects.get().date == NOW.date()


def test_build_digest_rejects_a_malformed_date():
    with pytest.raises(CommandError):
        run("build_digest", "--date", "26/11/2026")


def test_send_digest_sends_the_days_digest_once():
    make_story_on(NOW)
    make_subscriber("alice@example.com")
    run("build_digest", "--date", "2026-11-26")
    out, _ = run("send_digest", "--date", "2026-11-26")
    assert "1 sent, 0 failed" in out
    out, _ = run("send_digest", "--date", "2026-11-26")
    assert "0 sent, 0 failed" in out
    assert len(mail.outbox) == 1
    assert Delivery.objects.get().status == DeliveryStatus.SENT


def test_send_digest_shows_a_progress_bar_when_asked(capsys):
    make_story_on(NOW)
    make_subscriber("alice@example.com")
    make_subscriber("bob@example.com")
    run("build_digest", "--date", "2026-11-26")
    out, _ = run("send_digest", "--date", "2026-11-26", "--progress")
    assert "2 sent" in out
    # tqdm draws on the terminal's stderr: the final state shows every delivery done.
    assert "2/2" in capsys.readouterr().err


def test_send_digest_without_a_built_digest_says_what_to_do():
    with pytest.raises(CommandError, match="run build_digest --date 2026-11-26"):
        run("send_digest", "--date", "2026-11-26")


def write_csv(tmp_path, text: str):
    path = tmp_path / "subscribers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_import_adds_pending_subscribers_and_emails_nobody(tmp_path):
    path = write_csv(tmp_path, "Email,Name\nalice@example.com,Alice\nbob@example.com,\n")
    out, err = run("import_subscribers", str(path))
    assert "2 rows: 2 new, 0 confirmed" in out
    assert err == ""
    assert dict(Subscriber.objects.values_list("email", "name")) == {
        "alice@example.com": "Alice",
        "bob@example.com": "",
    }
    assert set(Subscriber.objects.values_list("status", flat=True)) == {SubscriberStatus.PENDING}
    assert mail.outbox == []


def test_import_confirmed_marks_them_confirmed(tmp_path):
    path = write_csv(tmp_path, "email\nalice@example.com\n")
    run("import_subscribers", str(path), "--confirmed")
    alice = Subscriber.objects.get()
    assert alice.status == SubscriberStatus.CONFIRMED
    assert alice.confirmed_at is not None


def test_import_reports_bad_rows_with_their_line_numbers_and_keeps_the_rest(tmp_path):
    path = write_csv(
        tmp_path,
        'email,name\nalice@example.com,Alice\nnot-an-email,X\n"bob@example.com","Bob\nSmith"\n'
        "ALICE@example.com,Again\n,\ncarol@example.com\n",
    )
    out, err = run("import_subscribers", str(path))
    assert f"{path}:3: skipped, not an email address: 'not-an-email'" in err
    # Bob's quoted name spans lines 4-5, so the next rows are lines 6 and 7.
    assert f"{path}:6: skipped, duplicate of line 2" in err
    assert f"{path}:7: skipped, not an email address: ''" in err
    assert "6 rows: 3 new, 0 confirmed, 0 already known and unchanged, 3 skipped." in out
    assert sorted(Subscriber.objects.values_list("email", flat=True)) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]


def test_import_never_resubscribes_someone_who_left(tmp_path):
    make_subscriber("gone@example.com", status=SubscriberStatus.UNSUBSCRIBED)
    path = write_csv(tmp_path, "email\ngone@example.com\n")
    out, _ = run("import_subscribers", str(path), "--confirmed")
    assert "1 already known and unchanged" in out
    assert Subscriber.objects.get().status == SubscriberStatus.UNSUBSCRIBED


def test_import_needs_an_email_column(tmp_path):
    path = write_csv(tmp_path, "address,name\nalice@example.com,Alice\n")
    with pytest.raises(CommandError, match="no 'email' column"):
        run("import_subscribers", str(path))


def test_import_of_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_subscribers", str(tmp_path / "missing.csv"))

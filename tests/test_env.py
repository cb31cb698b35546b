import pytest

from newsletter.env import (
    debug_by_default,
    email_settings,
    env_bool,
    env_int,
    env_str,
    secret_key,
)


def test_booleans_accept_the_usual_words_and_refuse_anything_else(monkeypatch):
    monkeypatch.setenv("FLAG", "Yes")
    assert env_bool("FLAG", False) is True
    monkeypatch.setenv("FLAG", "off")
    assert env_bool("FLAG", True) is False
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ValueError, match="not a boolean"):
        env_bool("FLAG", True)
    monkeypatch.delenv("FLAG")
    assert env_bool("FLAG", True) is True


def test_django_debug_mode_is_on_by_default_only_in_the_development_web_server():
    assert debug_by_default(["manage.py", "runserver", "0.0.0.0:8000", "--noreload"])
    for argv in (
        ["manage.py", "send_digest"],
        ["manage.py", "qcluster"],
        ["manage.py"],
        [".venv/bin/gunicorn", "--config", "deploy/gunicorn.conf.py"],
    ):
        assert not debug_by_default(argv), argv


def test_whole_numbers_are_checked(monkeypatch):
    monkeypatch.setenv("N", "12")
    assert env_int("N", 3) == 12
    monkeypatch.setenv("N", "twelve")
    with pytest.raises(ValueError, match="not a whole number"):
        env_int("N", 3)


def test_a_secret_can_be_read_from_a_file(monkeypatch, tmp_path):
    (tmp_path / "key").write_text("from-a-file\n")
    monkeypatch.setenv("TOKEN", "from-the-env")
    monkeypatch.setenv("TOKEN_FILE", str(tmp_path / "key"))
    assert env_str("TOKEN") == "from-a-file"


def test_the_secret_key_is_generated_once_for_local_use(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = secret_key(tmp_path, debug=True)
    assert len(first) > 40
    assert secret_key(tmp_path, debug=True) == first


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="SECRET_KEY must be set"):
        secret_key(tmp_path, debug=False)


def test_email_urls_become_django_settings():
    smtp = email_settings("smtp+tls://ann%40mail:p%2Fw@mail.example.com:587?timeout=5")
    assert smtp == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "ann@mail",
        "EMAIL_HOST_PASSWORD": "p/w",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 5,
    }
    assert email_settings("smtps://mail.example.com")["EMAIL_PORT"] == 465
    assert email_settings("outbox://")["EMAIL_BACKEND"] == "newsletter.outbox.OutboxEmailBackend"
    with pytest.raises(ValueError, match="scheme"):
        email_settings("carrier-pigeon://loft")


def test_an_anymail_url_picks_the_providers_backend_and_its_options():
    mailgun = email_settings("anymail://mailgun?api_key=key%2Fx+y&sender_domain=mg.example.org")
    assert mailgun == {
        "EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend",
        # Percent-decoded only: API keys may contain a literal "+".
        "ANYMAIL": {"MAILGUN_API_KEY": "key/x+y", "MAILGUN_SENDER_DOMAIN": "mg.example.org"},
    }
    with pytest.raises(ValueError, match="no django-anymail backend"):
        email_settings("anymail://carrier_pigeon")
    with pytest.raises(ValueError, match="no django-anymail backend"):
        email_settings("anymail://")

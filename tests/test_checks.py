"""System checks: stable ids for unsafe production config, and a clean `check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path
from tempfile import TemporaryDirectory
from unittest import mock

from django.test import SimpleTestCase, override_settings

from newsletter import checks

ROOT = Path(__file__).resolve().parent.parent
SAFE = {
    "DAYBRIEF_DEVELOPMENT": False,
    "DEBUG": False,
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "POSTAL_ADDRESS": "Daybrief Ltd, 5 Real Road, Leeds LS1 1AA",
    "SITE_URL": "https://news.example.org",
    "Q_CLUSTER": {"name": "daybrief", "workers": 4, "redis": "redis://127.0.0.1:6379/0"},
    "ANYMAIL": {"WEBHOOK_SECRET": "postmark:a-long-random-secret"},
}


def ids(messages: list) -> list[str]:
    return [message.id for message in messages]


def on_engine(name: str) -> mock._patch:  # type: ignore[type-arg]
    return mock.patch.object(checks, "engine", return_value=name)


@override_settings(**SAFE)
class ProductionCheckTests(SimpleTestCase):
    def setUp(self) -> None:
        self.enterContext(on_engine("django.db.backends.postgresql"))

    def test_a_safe_production_configuration_passes_every_check(self) -> None:
        for check in (
            checks.check_email_backend,
            checks.check_sqlite_workers,
            checks.check_orm_broker,
            checks.check_webhook_secret,
            checks.check_postal_address,
            checks.check_site_url,
        ):
            self.assertEqual(check(), [], check.__name__)

    @override_settings(EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend")
    def test_the_console_email_backend_is_w001(self) -> None:
        self.assertEqual(ids(checks.check_email_backend()), ["daybrief.W001"])

    @override_settings(EMAIL_BACKEND="newsletter.outbox.OutboxEmailBackend")
    def test_the_local_outbox_is_w001_too(self) -> None:
        self.assertEqual(ids(checks.check_email_backend()), ["daybrief.W001"])

    def test_sqlite_with_several_workers_is_w002(self) -> None:
        with on_engine(checks.SQLITE):
            self.assertEqual(ids(checks.check_sqlite_workers()), ["daybrief.W002"])

    @override_settings(Q_CLUSTER={"name": "daybrief", "workers": 1, "orm": "default"})
    def test_sqlite_with_one_worker_is_no_w002_but_the_orm_broker_on_it_is_w003(self) -> None:
        with on_engine(checks.SQLITE):
            self.assertEqual(checks.check_sqlite_workers(), [])
            self.assertEqual(ids(checks.check_orm_broker()), ["daybrief.W003"])

    @override_settings(Q_CLUSTER={"name": "daybrief", "workers": 4, "orm": "default"})
    def test_the_orm_broker_on_postgresql_is_fine(self) -> None:
        self.assertEqual(checks.check_orm_broker(), [])

    @override_settings(ANYMAIL={})
    def test_webhooks_without_a_secret_are_w004(self) -> None:
        self.assertEqual(ids(checks.check_webhook_secret()), ["daybrief.W004"])
        with self.settings(ANYMAIL={"WEBHOOK_SECRET": "user:" + secrets.token_hex(8)}):
            self.assertEqual(checks.check_webhook_secret(), [])

    @override_settings(POSTAL_ADDRESS="")
    def test_a_missing_postal_address_is_w005(self) -> None:
        self.assertEqual(ids(checks.check_postal_address()), ["daybrief.W005"])

    @override_settings(POSTAL_ADDRESS=checks.EXAMPLE_POSTAL_ADDRESS)
    def test_the_example_postal_address_is_w005(self) -> None:
        self.assertEqual(ids(checks.check_postal_address()), ["daybrief.W005"])

    @override_settings(SITE_URL="http://news.example.org")
    def test_a_plain_http_site_url_is_w006(self) -> None:
        self.assertEqual(ids(checks.check_site_url()), ["daybrief.W006"])


class RegisteredCheckTests(SimpleTestCase):
    # A laptop's management commands run with Django's DEBUG off (newsletter/settings.py).
    @override_settings(
        DAYBRIEF_DEVELOPMENT=True,
        DEBUG=False,
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
    )
    def test_a_laptop_hears_nothing(self) -> None:
        from django.core.checks import run_checks

        self.assertFalse([m for m in run_checks() if m.id.startswith("daybrief.")])

    @override_settings(DAYBRIEF_DEVELOPMENT=False, DEBUG=False, POSTAL_ADDRESS="")
    def test_the_checks_run_with_django_s_own(self) -> None:
        from django.core.checks import run_checks

        self.assertIn("daybrief.W005", ids(run_checks()))


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # The test process's own DATABASE_URL and the browser tests' async switch stay out.
    dropped = {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environ = {key: value for key, value in os.environ.items() if key not in dropped}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "newsletter.settings",
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "news.example.org",
    "SITE_URL": "https://news.example.org",
    # Only the engine matters: `check --deploy` does not connect.
    "DATABASE_URL": "postgres://daybrief@db.invalid:5432/daybrief",
    "REDIS_URL": "redis://redis.invalid:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.invalid:587",
    "POSTAL_ADDRESS": "Daybrief Ltd, 5 Real Road, Leeds LS1 1AA",
    "ANYMAIL_WEBHOOK_SECRET": "postmark:" + secrets.token_urlsafe(20),
}


class DeployCheckTests(SimpleTestCase):
    def test_check_deploy_is_clean_with_production_settings(self) -> None:
        result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("no issues", result.stdout)

    def test_check_deploy_names_what_a_bare_production_env_lacks(self) -> None:
        env = {**PRODUCTION_ENV, "DATABASE_URL": "sqlite:////tmp/daybrief-check.sqlite3"}
        for name in ("REDIS_URL", "EMAIL_URL", "POSTAL_ADDRESS", "ANYMAIL_WEBHOOK_SECRET"):
            env.pop(name)
        env["DAYBRIEF_VAR_DIR"] = "/tmp/daybrief-check-var"
        result = manage("check", "--deploy", **env)
        for check_id in ("W001", "W002", "W003", "W004", "W005"):
            self.assertIn(f"daybrief.{check_id}", result.stderr + result.stdout)

    def test_an_email_provider_chosen_by_url_is_configured_and_passes(self) -> None:
        env = {**PRODUCTION_ENV, "EMAIL_URL": "anymail://postmark?server_token=abc%2B1"}
        code = (
            "from django.conf import settings as s; print(s.EMAIL_BACKEND, "
            "s.ANYMAIL['POSTMARK_SERVER_TOKEN'], s.ANYMAIL['WEBHOOK_SECRET'])"
        )
        result = manage("shell", "-c", code, **env)
        self.assertEqual(
            result.stdout.split()[-3:],
            ["anymail.backends.postmark.EmailBackend", "abc+1", env["ANYMAIL_WEBHOOK_SECRET"]],
            result.stderr,
        )
        result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


# What a fresh clone leaves unset.
LAPTOP_UNSET = {"DEBUG", "SECRET_KEY", "DAYBRIEF_DEMO", "DAYBRIEF_ALLOW_PRIVATE_FEEDS"}
SHOW_SETTINGS = (
    "import sys; sys.argv = sys.argv[1:]; import newsletter.settings as s; "
    "print(s.DEBUG, s.DAYBRIEF_DEVELOPMENT, s.DAYBRIEF_DEMO, s.DAYBRIEF_ALLOW_PRIVATE_FEEDS)"
)


def laptop_settings(*argv: str, **env: str) -> list[str]:
    """DEBUG, DAYBRIEF_DEVELOPMENT, DAYBRIEF_DEMO and DAYBRIEF_ALLOW_PRIVATE_FEEDS as a
    fresh clone's `argv` (manage.py and its arguments) would see them."""
    environ = {key: value for key, value in os.environ.items() if key not in LAPTOP_UNSET}
    with TemporaryDirectory() as var_dir:
        environ.update(env, DAYBRIEF_VAR_DIR=var_dir)
        result = subprocess.run(
            [sys.executable, "-c", SHOW_SETTINGS, *argv],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    return result.stdout.split()


class FreshCloneTests(SimpleTestCase):
    def test_commands_run_without_django_debug_mode_but_with_the_laptop_defaults(self) -> None:
        # Debug mode would keep every query of a long command (send_digest) in memory.
        for command in ("send_digest", "qcluster"):
            with self.subTest(command=command):
                self.assertEqual(
                    laptop_settings("manage.py", command), ["False", "True", "True", "True"]
                )

    def test_the_development_web_server_runs_in_django_debug_mode(self) -> None:
        self.assertEqual(
            laptop_settings("manage.py", "runserver", "--noreload"),
            ["True", "True", "True", "True"],
        )

    def test_debug_1_turns_django_debug_mode_on_in_commands_too(self) -> None:
        self.assertEqual(
            laptop_settings("manage.py", "send_digest", DEBUG="1"),
            ["True", "True", "True", "True"],
        )

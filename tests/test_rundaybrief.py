"""`rundaybrief` (what `make run` runs): its steps one by one, then the whole process."""

import datetime as dt
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.test import SimpleTestCase, TestCase, override_settings
from django_q.models import Schedule, Task

from newsletter.management.commands import rundaybrief
from newsletter.management.commands.rundaybrief import (
    AdminAccount,
    Child,
    ChildDied,
    StopRequested,
    check_children,
    defer_scheduled_fetch,
    describe_admin,
    describe_summary,
    ensure_admin,
    prepare_demo,
    restore_signals,
    run_cycle,
    stop_children,
    stop_on_signals,
    wait_until_answering,
)
from newsletter.models import Subscriber
from newsletter.schedules import FETCH_ROUND
from tests.factories import make_source
from tests.feedserver import FeedServer
from tests.postgres import throwaway_postgres_database
from topics.demo.content import SOURCES
from topics.models import Source

NOW = dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)
ADMIN_ENV = {"DAYBRIEF_ADMIN_EMAIL": "editor@example.com", "DAYBRIEF_ADMIN_PASSWORD": "s3cret-pw"}


def sample_summary() -> dict[str, int]:
    """Stands in for newsletter.tasks.full_cycle when testing how a cycle is awaited."""
    return {"fetched": 8, "new_articles": 63}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _python_child(code: str, **popen: Any) -> Child:
    return Child("helper", subprocess.Popen([sys.executable, "-c", code], **popen))


class PrepareDemoTests(TestCase):
    def test_an_empty_database_gets_the_demo_newsroom(self) -> None:
        message = prepare_demo("http://localhost:8000")
        self.assertIn(f"{len(SOURCES)} sources", message)
        self.assertEqual(Source.objects.count(), len(SOURCES))
        self.assertEqual(Subscriber.objects.confirmed().count(), 4)

    def test_a_second_run_adds_nothing(self) -> None:
        prepare_demo("http://localhost:8000")
        message = prepare_demo("http://localhost:8000")
        self.assertIn("existing sources (0 demo feeds moved", message)
        self.assertEqual(Source.objects.count(), len(SOURCES))
        self.assertEqual(Subscriber.objects.count(), 4)

    def test_a_new_port_moves_the_demo_feeds(self) -> None:
        prepare_demo("http://localhost:8000")
        prepare_demo("http://localhost:9000")
        wire = Source.objects.get(name="Northwire")
        self.assertEqual(wire.feed_url, "http://localhost:9000/demo/feeds/northwire.xml")

    def test_a_database_with_real_sources_gets_no_demo(self) -> None:
        make_source(name="A real feed")
        prepare_demo("http://localhost:8000")
        self.assertEqual(Source.objects.count(), 1)
        self.assertFalse(Subscriber.objects.exists())

    @override_settings(DAYBRIEF_DEMO=False)
    def test_without_demo_mode_nothing_is_loaded(self) -> None:
        self.assertIn("DAYBRIEF_DEMO is off", prepare_demo("http://localhost:8000"))
        self.assertFalse(Source.objects.exists())


class EnsureAdminTests(TestCase):
    @mock.patch.dict(os.environ, ADMIN_ENV)
    def test_the_admin_comes_from_the_environment(self) -> None:
        account = ensure_admin()
        self.assertEqual(account, AdminAccount("editor@example.com", True, None, True))
        user = User.objects.get(username="editor@example.com")
        self.assertTrue(user.is_superuser and user.is_staff)
        self.assertEqual(user.email, "editor@example.com")
        self.assertTrue(user.check_password("s3cret-pw"))

    @mock.patch.dict(os.environ)
    def test_without_a_password_one_is_generated_and_shown_once(self) -> None:
        for name in ADMIN_ENV:
            os.environ.pop(name, None)
        account = ensure_admin()
        self.assertEqual(account.username, "admin@example.com")
        assert account.password is not None
        self.assertGreaterEqual(len(account.password), 16)
        self.assertTrue(User.objects.get().check_password(account.password))
        again = ensure_admin()
        self.assertEqual(again, AdminAccount("admin@example.com", False))

    @mock.patch.dict(os.environ, ADMIN_ENV)
    def test_an_existing_superuser_is_kept(self) -> None:
        User.objects.create_superuser("boss", "boss@example.com", "pw")
        self.assertEqual(ensure_admin(), AdminAccount("boss", False))
        self.assertEqual(User.objects.count(), 1)

    def test_credentials_are_described_without_leaking_a_known_password(self) -> None:
        shown = describe_admin(AdminAccount("a@example.com", True, "generated-pw"))
        self.assertIn("generated-pw", "\n".join(shown))
        from_env = describe_admin(AdminAccount("a@example.com", True, None, True))
        self.assertIn("DAYBRIEF_ADMIN_PASSWORD", "\n".join(from_env))
        self.assertIn("as set before", "\n".join(describe_admin(AdminAccount("a", False))))


class DeferScheduledFetchTests(TestCase):
    def setUp(self) -> None:
        # Migrating registered the schedules; make sure this test sees one.
        self.schedule, _ = Schedule.objects.get_or_create(
            name=FETCH_ROUND, defaults={"func": "topics.tasks.fetch_round"}
        )

    def test_a_due_fetch_round_waits_one_interval_after_start(self) -> None:
        Schedule.objects.filter(pk=self.schedule.pk).update(next_run=NOW)
        defer_scheduled_fetch(NOW)
        self.schedule.refresh_from_db()
        interval = dt.timedelta(minutes=settings.DAYBRIEF_FETCH_MINUTES)
        self.assertEqual(self.schedule.next_run, NOW + interval)

    def test_a_later_fetch_round_is_left_alone(self) -> None:
        later = NOW + dt.timedelta(hours=2)
        Schedule.objects.filter(pk=self.schedule.pk).update(next_run=later)
        defer_scheduled_fetch(NOW)
        self.schedule.refresh_from_db()
        self.assertEqual(self.schedule.next_run, later)


class RunCycleTests(TestCase):
    """Tests run django-q2 in sync mode, so the task has finished when run_cycle looks."""

    def test_a_finished_cycle_returns_its_summary(self) -> None:
        with mock.patch.object(rundaybrief, "CYCLE_TASK", "tests.test_rundaybrief.sample_summary"):
            self.assertEqual(run_cycle([], timeout=5), (True, sample_summary()))

    def test_a_failed_cycle_returns_its_error(self) -> None:
        # Sync mode re-raises task errors, so the worker's record of a failure is made here.
        failed = Task.objects.create(
            id="f" * 32,
            name="failed-cycle",
            func=rundaybrief.CYCLE_TASK,
            started=NOW,
            stopped=NOW,
            success=False,
            result="Traceback...\nRuntimeError: the feeds are on fire",
        )
        with mock.patch("django_q.tasks.async_task", return_value=failed.id):
            self.assertEqual(run_cycle([], timeout=5), (False, failed.result))

    def test_a_cycle_without_a_result_in_time_is_reported(self) -> None:
        with mock.patch("django_q.tasks.async_task", return_value="0" * 32):
            ok, message = run_cycle([], timeout=0)
        self.assertFalse(ok)
        self.assertIn("no result after 0 s", message)

    def test_summaries_read_as_plain_words(self) -> None:
        self.assertEqual(describe_summary(sample_summary()), "fetched: 8, new articles: 63")


class ChildProcessTests(SimpleTestCase):
    def test_a_child_that_exited_is_reported_with_its_code(self) -> None:
        child = _python_child("raise SystemExit(3)")
        child.process.wait()
        with self.assertRaisesMessage(ChildDied, "The helper stopped unexpectedly (exit code 3)"):
            check_children([child])

    def test_stopping_terminates_the_children(self) -> None:
        children = [_python_child("import time; time.sleep(60)") for _ in range(2)]
        stop_children(children, grace=10)
        self.assertEqual([c.process.returncode for c in children], [-signal.SIGTERM] * 2)

    def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(self) -> None:
        code = (
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)"
        )
        child = _python_child(code, stdout=subprocess.PIPE)
        assert child.process.stdout is not None
        self.assertEqual(child.process.stdout.readline(), b"ready\n")
        stop_children([child], grace=0.2)
        self.assertEqual(child.process.returncode, -signal.SIGKILL)
        child.process.stdout.close()

    def test_a_stop_signal_raises_stop_requested_and_later_ones_are_ignored(self) -> None:
        previous = stop_on_signals()
        try:
            with self.assertRaises(StopRequested):
                signal.raise_signal(signal.SIGTERM)
            # A second Ctrl-C must not interrupt the shutdown under way.
            self.assertIs(signal.getsignal(signal.SIGINT), signal.SIG_IGN)
        finally:
            restore_signals(previous)
        self.assertEqual(signal.getsignal(signal.SIGTERM), previous[signal.SIGTERM])

    def test_waiting_for_the_site_ends_when_it_answers(self) -> None:
        with FeedServer() as server:
            server.route("/", "hello")
            wait_until_answering(server.url("/"), [], timeout=5)

    def test_waiting_for_the_site_stops_when_the_server_died(self) -> None:
        child = _python_child("raise SystemExit(1)")
        child.process.wait()
        with self.assertRaises(ChildDied):
            wait_until_answering(f"http://127.0.0.1:{_free_port()}/", [child], timeout=5)

    def test_waiting_for_the_site_gives_up_after_the_timeout(self) -> None:
        with self.assertRaisesMessage(CommandError, "did not answer"):
            wait_until_answering(f"http://127.0.0.1:{_free_port()}/", [], timeout=0)


def _env(var_dir: Path, port: int, services: dict[str, str] | None = None) -> dict[str, str]:
    """This environment minus deployment settings: a fresh clone's defaults, on `var_dir`,
    plus `services` (DATABASE_URL, REDIS_URL) when a test runs on real servers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAYBRIEF_", "Q_"))}
    for name in ("DATABASE_URL", "SITE_URL", "REDIS_URL", "EMAIL_URL", "EMAIL_HOST", "DEBUG"):
        env.pop(name, None)
    env.update(ADMIN_ENV)
    env.update(services or {})
    env.update(
        DJANGO_SETTINGS_MODULE="newsletter.settings",
        DAYBRIEF_VAR_DIR=str(var_dir),
        PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(*args: str) -> list[str]:
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]


def _migrate(var_dir: Path, services: dict[str, str] | None = None) -> None:
    env = _env(var_dir, 0, services)
    subprocess.run(_manage("migrate", "-v0"), env=env, check=True, timeout=120)


def _count(var_dir: Path, table: str, where: str = "1=1", database_url: str = "") -> int:
    query = f"SELECT count(*) FROM {table} WHERE {where}"
    if database_url:
        with psycopg.connect(database_url) as db:
            return int(db.execute(query).fetchone()[0])  # type: ignore[index]
    with sqlite3.connect(var_dir / "daybrief.sqlite3") as db:
        return int(db.execute(query).fetchone()[0])


class Daybrief:
    """`manage.py rundaybrief` in a subprocess, on its own database under `var_dir`."""

    def __init__(self, var_dir: Path, *args: str, services: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.process = subprocess.Popen(
            _manage("rundaybrief", *args),
            env=_env(var_dir, self.port, services),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float) -> None:
        """Read the output until `text` appears (no sleeping: a blocking read with a timeout)."""
        deadline = time.monotonic() + timeout
        while text not in self.text:
            remaining = deadline - time.monotonic()
            try:
                self.output.append(self.lines.get(timeout=max(remaining, 0)))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in {timeout} s:\n{self.text}") from None

    def stop(self, signum: int = signal.SIGINT) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=30)
        self.wait_for("Stopped.", timeout=5)
        return code

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def child(self, command: str) -> int:
        """The pid of the child process running `manage.py <command>` (Linux /proc)."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue  # the process ended while we looked
            if parent == self.process.pid and command.encode() in cmdline:
                return int(stat.parent.name)
        raise AssertionError(f"no child running {command}")

    @property
    def text(self) -> str:
        return "".join(self.output)

    def site(self, path: str = "/") -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=10, trust_env=False)


@pytest.mark.slow
class RunDaybriefProcessTests(SimpleTestCase):
    """The real thing: child processes, signals, a fresh SQLite database. About 15-40 s."""

    def setUp(self) -> None:
        self.var_dir = Path(self.enterContext(tempfile.TemporaryDirectory()))

    def _run(self, *args: str) -> Daybrief:
        daybrief = Daybrief(self.var_dir, *args)
        self.addCleanup(daybrief.cleanup)
        return daybrief

    def test_it_serves_until_ctrl_c_then_stops_cleanly_and_a_second_run_adds_nothing(
        self,
    ) -> None:
        _migrate(self.var_dir)
        first = self._run("--no-cycle")
        first.wait_for("Admin password:", timeout=40)
        self.assertEqual(first.site("/").status_code, 200)
        self.assertEqual(first.site("/demo/feeds/northwire.xml").status_code, 200)
        self.assertIn("Admin user:      editor@example.com", first.text)
        self.assertEqual(first.stop(signal.SIGINT), 0)
        with self.assertRaises(httpx.TransportError):
            first.site("/")  # the web server went with it

        second = self._run("--no-cycle")
        second.wait_for("Admin password:", timeout=40)
        self.assertIn("Using the existing sources", second.text)
        self.assertEqual(second.stop(signal.SIGTERM), 0)
        self.assertEqual(_count(self.var_dir, "topics_source"), len(SOURCES))
        self.assertEqual(_count(self.var_dir, "newsletter_subscriber"), 4)
        self.assertEqual(_count(self.var_dir, "auth_user"), 1)

    @pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
    def test_when_a_child_dies_the_other_is_stopped_and_it_exits_with_an_error(self) -> None:
        _migrate(self.var_dir)
        daybrief = self._run("--no-cycle")
        daybrief.wait_for("Admin password:", timeout=40)
        worker = daybrief.child("qcluster")
        os.kill(daybrief.child("runserver"), signal.SIGKILL)
        self.assertEqual(daybrief.process.wait(timeout=30), 1)
        daybrief.wait_for("The web server stopped unexpectedly (exit code -9)", timeout=5)
        # The worker was stopped too, not left behind.
        with self.assertRaises(ProcessLookupError):
            os.kill(worker, 0)

    def test_the_first_cycle_delivers_todays_digest_to_the_outbox(self) -> None:
        _migrate(self.var_dir)
        daybrief = self._run()
        daybrief.wait_for("Admin password:", timeout=55)
        self.assertIn("First cycle done", daybrief.text)
        self.assertEqual(_count(self.var_dir, "topics_article"), 63)
        self.assertEqual(_count(self.var_dir, "newsletter_delivery", "status = 'sent'"), 4)
        self.assertTrue(any((self.var_dir / "outbox").iterdir()))
        self.assertEqual(daybrief.stop(), 0)

    def test_cycle_only_runs_one_cycle_in_process_and_exits(self) -> None:
        _migrate(self.var_dir)
        daybrief = self._run("--cycle-only")
        self.assertEqual(daybrief.process.wait(timeout=55), 0)
        daybrief.wait_for("Stopped.", timeout=5)
        self.assertIn("First cycle done", daybrief.text)
        self.assertEqual(_count(self.var_dir, "newsletter_delivery", "status = 'sent'"), 4)

    @pytest.mark.skipif(
        not (settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and settings.REDIS_URL),
        reason="runs when the suite itself runs on PostgreSQL with REDIS_URL set (CI does)",
    )
    def test_the_first_cycle_runs_on_postgresql_with_the_redis_broker(self) -> None:
        server_url = os.environ["DATABASE_URL"]
        database_url = self.enterContext(throwaway_postgres_database(server_url, "daybrief_run"))
        services = {"DATABASE_URL": database_url, "REDIS_URL": settings.REDIS_URL}
        _migrate(self.var_dir, services)
        daybrief = Daybrief(self.var_dir, services=services)
        self.addCleanup(daybrief.cleanup)
        daybrief.wait_for("Admin password:", timeout=55)
        self.assertIn("First cycle done", daybrief.text)
        sent = _count(self.var_dir, "newsletter_delivery", "status = 'sent'", database_url)
        self.assertEqual(sent, 4)
        self.assertEqual(daybrief.stop(), 0)

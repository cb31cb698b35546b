"""`make run`: Daybrief on one machine, from an empty database to a delivered digest.

Loads the demo newsroom into an empty database, makes sure an admin account exists, starts
the web server and the django-q2 worker as child processes, runs one full cycle (fetch,
cluster, enrich, rank, build and send today's digest) through the worker, then serves until
Ctrl-C. Running it again reuses the database and adds nothing twice.
"""

import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone

from newsletter.env import env_str
from newsletter.schedules import FETCH_ROUND
from topics.demo.loading import load_demo, update_demo_urls
from topics.models import Source

CYCLE_TASK = "newsletter.tasks.full_cycle"
DEFAULT_ADMIN_EMAIL = "admin@example.com"
READY_TIMEOUT = 60.0  # seconds for the web server to answer
CYCLE_TIMEOUT = 900.0  # seconds for the first cycle; above the task timeout (600 s)
GRACE_PERIOD = 10.0  # seconds a child gets to stop before it is killed
POLL_INTERVAL = 0.5


class StopRequested(BaseException):
    """Ctrl-C or a termination signal. A BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way (in Django, django-q2 or httpx) swallows it."""


class ChildDied(CommandError):
    pass


@dataclass
class AdminAccount:
    username: str
    created: bool
    # Shown once, when generated; never stored anywhere but as a hash.
    password: str | None = None
    password_from_env: bool = False


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]

    def exited(self) -> int | None:
        return self.process.poll()


def prepare_demo(site_url: str) -> str:
    """Load the demo into an empty database; otherwise keep demo feed URLs on this site."""
    if Source.objects.exists():
        moved = update_demo_urls(site_url)
        return f"Using the existing sources ({moved} demo feeds moved to {site_url})."
    if not settings.DAYBRIEF_DEMO:
        return "No sources yet, and DAYBRIEF_DEMO is off: add sources in the admin."
    result = load_demo(site_url)
    return (
        f"Loaded the demo newsroom: {result.sources_created} sources, "
        f"{result.subscribers_created} subscribers."
    )


def ensure_admin() -> AdminAccount:
    """The first superuser, created from DAYBRIEF_ADMIN_EMAIL / DAYBRIEF_ADMIN_PASSWORD when
    there is none (with a generated password when no password is set)."""
    user_model = get_user_model()
    existing = user_model.objects.filter(is_superuser=True).order_by("pk").first()
    if existing is not None:
        return AdminAccount(username=existing.get_username(), created=False)
    email = env_str("DAYBRIEF_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL) or DEFAULT_ADMIN_EMAIL
    password = env_str("DAYBRIEF_ADMIN_PASSWORD")
    from_env = bool(password)
    password = password or secrets.token_urlsafe(12)
    user_model.objects.create_superuser(username=email, email=email, password=password)
    return AdminAccount(
        username=email,
        created=True,
        password=None if from_env else password,
        password_from_env=from_env,
    )


def defer_scheduled_fetch(now: dt.datetime) -> None:
    """The start-up cycle is a fetch round; the scheduled round, due at once after a fresh
    migrate, would race it and could freeze today's digest before every topic is in."""
    from django_q.models import Schedule

    later = now + dt.timedelta(minutes=settings.DAYBRIEF_FETCH_MINUTES)
    Schedule.objects.filter(name=FETCH_ROUND, next_run__lt=later).update(next_run=later)


def start_child(name: str, *args: str) -> Child:
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]
    # A session of its own: Ctrl-C reaches only this process, which then stops the children
    # in order instead of having them interrupted mid-write.
    process = subprocess.Popen(command, env=os.environ.copy(), start_new_session=True)
    return Child(name, process)


def check_children(children: list[Child]) -> None:
    for child in children:
        code = child.exited()
        if code is not None:
            raise ChildDied(f"The {child.name} stopped unexpectedly (exit code {code}).")


def wait_until_answering(url: str, children: list[Child], timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        check_children(children)
        if answers(url):
            return
        if time.monotonic() > deadline:
            raise CommandError(f"The web server did not answer at {url} in {timeout:g} s.")
        time.sleep(POLL_INTERVAL)


def answers(url: str) -> bool:
    """Whether anything answers HTTP at `url`; an error page counts, the server is up."""
    try:
        httpx.get(url, timeout=2.0, trust_env=False)
    except httpx.TransportError:
        return False
    return True


def run_cycle(children: list[Child], timeout: float = CYCLE_TIMEOUT) -> tuple[bool, Any]:
    """Enqueue CYCLE_TASK (newsletter.tasks.full_cycle) and wait for the worker to finish it.

    Returns (True, the task's summary) or (False, a description of what went wrong).
    """
    from django_q.tasks import async_task, fetch

    task_id = async_task(CYCLE_TASK)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_children(children)
        task = fetch(task_id, wait=1000)
        if task is not None:
            return task.success, task.result
    return False, f"no result after {timeout:g} s (task {task_id} may still be running)"


def serve_until_stopped(children: list[Child]) -> None:
    """Returns never: ends with StopRequested (a signal) or ChildDied."""
    while True:
        check_children(children)
        time.sleep(POLL_INTERVAL)


def stop_children(children: list[Child], grace: float = GRACE_PERIOD) -> None:
    """Terminate the children (the last started first), kill any that outlive `grace`."""
    running = [child for child in reversed(children) if child.exited() is None]
    for child in running:
        child.process.terminate()
    deadline = time.monotonic() + grace
    for child in running:
        try:
            child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
Handlers = dict[signal.Signals, Any]


def stop_on_signals() -> Handlers:
    """Turn the stop signals into StopRequested; returns the handlers they had before."""
    return {signum: signal.signal(signum, _request_stop) for signum in STOP_SIGNALS}


def restore_signals(previous: Handlers) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _request_stop(signum: int, frame: FrameType | None) -> None:
    # One request is enough: the shutdown that follows must not itself be interrupted.
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise StopRequested(signal.Signals(signum).name)


def describe_summary(summary: Any) -> str:
    if isinstance(summary, dict):
        return ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in summary.items())
    return str(summary)


def local_url() -> str:
    return f"http://127.0.0.1:{settings.PORT}/"


class Command(BaseCommand):
    help = (
        "Run Daybrief: load the demo into an empty database, create an admin, start the web "
        "server and the task worker, run one full cycle, and serve until Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        modes = parser.add_mutually_exclusive_group()
        modes.add_argument(
            "--no-cycle", action="store_true", help="Start serving without the first cycle."
        )
        modes.add_argument(
            "--cycle-only",
            action="store_true",
            help="Run one full cycle in this process (the web server serves the demo feeds "
            "meanwhile), then stop. No worker is started.",
        )
        parser.add_argument("--cycle-timeout", type=float, default=CYCLE_TIMEOUT)

    def handle(self, *args: Any, **options: Any) -> None:
        self.say(prepare_demo(settings.SITE_URL))
        account = ensure_admin()
        children: list[Child] = []
        previous = stop_on_signals()
        try:
            self.start(children, account, options)
        except StopRequested as stop:
            self.say(f"Stopping ({stop})…")
        finally:
            stop_children(children)
            restore_signals(previous)
        self.say("Stopped.")

    def start(self, children: list[Child], account: AdminAccount, options: dict[str, Any]) -> None:
        port = settings.PORT
        children.append(start_child("web server", "runserver", f"0.0.0.0:{port}", "--noreload"))
        try:
            wait_until_answering(local_url(), children)
        except ChildDied as died:
            raise ChildDied(f"{died} Is port {port} in use? Set PORT to use another.") from None
        if options["cycle_only"]:
            self.run_cycle_here()
            return
        if not options["no_cycle"]:
            defer_scheduled_fetch(timezone.now())
        children.append(start_child("task worker", "qcluster"))
        if not options["no_cycle"]:
            self.say("Running the first cycle: fetch, cluster, build and send today's digest…")
            self.report_cycle(*run_cycle(children, options["cycle_timeout"]))
        self.welcome(describe_admin(account))
        serve_until_stopped(children)

    def run_cycle_here(self) -> None:
        from newsletter.tasks import full_cycle

        self.say("Running one full cycle in this process…")
        try:
            summary = full_cycle()
        except Exception as exc:
            raise CommandError(f"The cycle failed: {type(exc).__name__}: {exc}") from exc
        self.report_cycle(True, summary)

    def report_cycle(self, ok: bool, summary: Any) -> None:
        if ok:
            self.say(f"First cycle done. {describe_summary(summary)}.")
            return
        last_line = str(summary).strip().splitlines()[-1:] or ["no details"]
        self.stderr.write(
            f"The first cycle failed: {last_line[0]}\n"
            "The site keeps running; the admin's Tasks > Failed tasks page has the details."
        )

    def welcome(self, account_lines: list[str]) -> None:
        site = settings.SITE_URL
        today = timezone.localdate().isoformat()
        lines = [
            f"Daybrief is ready at {site}/ (Ctrl-C to stop).",
            f"  Topics:          {site}{reverse('topics:index')}",
            f"  Admin:           {site}{reverse('admin:index')}",
            f"  Outbox (emails): {site}{reverse('outbox_index')}",
            f"  Today's digest:  {site}{reverse('newsletter:archive', args=[today])}",
        ]
        if settings.DAYBRIEF_DEMO:
            lines.append(f"  Demo newsroom:   {site}{reverse('demo:index')}")
        lines.extend(account_lines)
        self.say("\n".join(lines))

    def say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()


def describe_admin(account: AdminAccount) -> list[str]:
    lines = [f"  Admin user:      {account.username}"]
    if account.password:
        lines.append(f"  Admin password:  {account.password}  (shown once; change it in the admin)")
    elif account.password_from_env:
        lines.append("  Admin password:  the one in DAYBRIEF_ADMIN_PASSWORD")
    else:
        lines.append("  Admin password:  as set before")
    return lines

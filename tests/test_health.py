"""/healthz and /readyz: what a load balancer probes."""

import json
import logging
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

import httpx
import pytest
from django.conf import settings
from django.db.utils import OperationalError
from django.test import SimpleTestCase, TestCase, override_settings

from newsletter.jsonlog import JsonFormatter


class HealthzTests(TestCase):
    def test_healthz_answers_ok_without_touching_the_database(self) -> None:
        with self.assertNumQueries(0):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok"})

    def test_healthz_is_never_cached(self) -> None:
        response = self.client.get("/healthz")
        self.assertIn("no-cache", response["Cache-Control"])

    def test_healthz_sets_no_cookie(self) -> None:
        self.assertEqual(self.client.get("/healthz").cookies, {})


class ReadyzTests(TestCase):
    @override_settings(Q_CLUSTER={"name": "t", "orm": "default", "sync": True})
    def test_readyz_is_ok_when_the_database_answers_on_the_orm_broker(self) -> None:
        response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok", "database": True, "broker": True})

    @override_settings(Q_CLUSTER={"name": "t", "orm": "default", "sync": True})
    def test_readyz_is_503_when_the_database_is_down(self) -> None:
        failing = mock.patch(
            "django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError
        )
        with failing, self.assertLogs("newsletter.health", "ERROR"):
            response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["database"], False)

    @override_settings(Q_CLUSTER={"name": "t", "redis": "redis://127.0.0.1:1/0", "sync": True})
    def test_readyz_is_503_when_redis_refuses_connections(self) -> None:
        # Port 1 on loopback refuses at once: no network beyond this machine.
        with self.assertLogs("newsletter.health", "ERROR"):
            response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(
            response.json(), {"status": "unavailable", "database": True, "broker": False}
        )

    def test_readyz_refuses_posts(self) -> None:
        self.assertEqual(self.client.post("/readyz").status_code, 405)


class JsonLogTests(SimpleTestCase):
    def test_a_log_line_is_one_json_object_with_extras_and_the_exception(self) -> None:
        record = logging.makeLogRecord(
            {
                "name": "topics.fetching",
                "levelname": "WARNING",
                "msg": "Source %s failed",
                "args": (7,),
                "source_id": 7,
            }
        )
        try:
            raise ValueError("boom")
        except ValueError:
            record.exc_info = sys.exc_info()
        entry = json.loads(JsonFormatter().format(record))
        self.assertEqual(entry["message"], "Source 7 failed")
        self.assertEqual(entry["level"], "WARNING")
        self.assertEqual(entry["logger"], "topics.fetching")
        self.assertEqual(entry["source_id"], 7)
        self.assertIn("ValueError: boom", entry["exception"])
        self.assertNotIn("\n", JsonFormatter().format(record))


@pytest.mark.slow
class ServeTests(SimpleTestCase):
    """`make serve` (deploy/serve.sh): gunicorn and qcluster with production settings."""

    def test_make_serve_answers_probes_and_serves_hashed_compressed_static_files(self) -> None:
        var_dir = Path(self.enterContext(tempfile.TemporaryDirectory()))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAYBRIEF_", "Q_"))}
        for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "EMAIL_URL"):
            env.pop(name, None)
        env.update(
            DAYBRIEF_VAR_DIR=str(var_dir),
            DAYBRIEF_ENV_FILE=str(var_dir / "none.env"),
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1",
            SITE_URL=f"http://127.0.0.1:{port}",
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="1",
            Q_WORKERS="1",
            PYTHONUNBUFFERED="1",
        )
        server = subprocess.Popen(
            ["deploy/serve.sh"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.addCleanup(stop, server)
        output = wait_for_line(server, "Booting worker", timeout=120)
        base = f"http://127.0.0.1:{port}"
        self.assertEqual(get(f"{base}/healthz").json(), {"status": "ok"}, output)
        ready = get(f"{base}/readyz")
        self.assertEqual(ready.status_code, 200, ready.text)
        page = get(f"{base}/subscribe/")
        self.assertIn("script-src 'self'", page.headers["content-security-policy"])
        (css,) = re.findall(r'href="(/static/daybrief\.[0-9a-f]{12}\.css)"', page.text)
        static = get(f"{base}{css}", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(static.headers["content-encoding"], "gzip")
        self.assertIn("immutable", static.headers["cache-control"])
        # The worker runs beside the web server, on the same settings.
        self.assertEqual(get(f"{base}/metrics").status_code, 404)  # no token, DEBUG off
        # Ctrl-C in a terminal reaches the whole foreground group.
        os.killpg(server.pid, signal.SIGINT)
        self.assertEqual(server.wait(timeout=90), 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=30, **kwargs)  # type: ignore[arg-type]


def wait_for_line(process: subprocess.Popen[str], text: str, timeout: float) -> str:
    """Read the process's output until a line holds `text` (no sleeping)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"no {text!r} in {timeout} s:\n{''.join(seen)}")


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

"""CPU per request inside Django: the WSGI app, its whole middleware stack included,
answering the same GET many times in this one process, with no server and no network.

    .venv/bin/python benchmarks/web_cpu.py --reuse DATABASE_URL [--path /] [--requests 2000]
        [--profile] [--signup]

Settings as benchmarks/web.py runs gunicorn (DEBUG off, the page cache on, in files under a
throwaway var dir), against a database that `benchmarks/web.py --keep` populated. The first
requests render the page and fill the cache; the figure is CPU time (time.process_time) per
request after them, so it is the cost of a cache hit and does not move with the machine's load
as wall time does. `--profile` prints the 25 costliest functions (CPU time) under cProfile.

`--signup` measures the signup form's POST instead (a new address each time, the CSRF token
of one GET; any migrated database will do), then runs the tasks the signups queued (the
confirmation emails) in this process and prints their CPU per task too: the web server's
cost and the worker's, separately.
"""

import argparse
import atexit
import cProfile
import io
import os
import pstats
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 50

StartResponse = Callable[..., object]


def configure(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    var_dir = tempfile.mkdtemp(prefix="daybrief-cpu-")
    # Static files, cached pages and, with --signup, hundreds of emails in the outbox.
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="newsletter.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL="http://127.0.0.1:8000",
        DATABASE_URL=database_url,
        DAYBRIEF_VAR_DIR=var_dir,
        DAYBRIEF_DEMO="0",
        LOG_LEVEL="WARNING",
        # Persistent connections, as benchmarks/web.py runs gunicorn with.
        DB_CONN_MAX_AGE="60",
        EMAIL_URL="outbox://",
        # Every signup comes from one address: lift the limits, as benchmarks/web.py does.
        DAYBRIEF_SIGNUPS_PER_IP_HOUR="1000000",
        DAYBRIEF_SIGNUPS_PER_ADDRESS_HOUR="1000000",
    )
    os.environ.pop("REDIS_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    # Pages name their static files by content hash: the manifest must exist.
    call_command("collectstatic", interactive=False, verbosity=0)


def environ_for(path: str) -> dict[str, object]:
    """What gunicorn hands the app for a plain GET from wrk."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def post_environ(path: str, body: bytes, cookie: str) -> dict[str, object]:
    """What gunicorn hands the app for a form POST."""
    environ = environ_for(path)
    environ.update(
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(len(body)),
        HTTP_COOKIE=cookie,
    )
    environ["wsgi.input"] = io.BytesIO(body)
    return environ


def signup_requester() -> Callable[[], str]:
    """POSTs to the signup form, each with a new address, after one GET for the CSRF token."""
    from urllib.parse import urlencode

    from newsletter.wsgi import application

    answers: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> None:
        answers.append((status, headers))

    body = b"".join(application(environ_for("/subscribe/"), start_response))
    _, headers = answers.pop()
    cookie = next(v.split(";")[0] for k, v in headers if k == "Set-Cookie" and "csrftoken" in v)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert match, "no CSRF token in the signup form"
    token = match.group(1).decode()
    count = 0

    def one() -> str:
        nonlocal count
        count += 1
        form = urlencode({"csrfmiddlewaretoken": token, "email": f"cpu-{count}@example.com"})
        response = application(post_environ("/subscribe/", form.encode(), cookie), start_response)
        b"".join(response)
        response.close()  # type: ignore[attr-defined]
        status = answers.pop()[0]
        return "200 OK" if status.startswith("302") else status

    return one


def run_queued_tasks() -> tuple[int, float]:
    """Run what the requests queued, as a worker would; (tasks, CPU seconds)."""
    import pydoc

    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()
    tasks, cpu = 0, 0.0
    while packages := broker.dequeue():
        for task_id, pack in packages:
            start = time.process_time()
            task = SignedPackage.loads(pack)
            pydoc.locate(task["func"])(*task["args"], **task["kwargs"])  # type: ignore[misc]
            cpu += time.process_time() - start
            broker.acknowledge(task_id)
            tasks += 1
    return tasks, cpu


def requester(path: str) -> Callable[[], str]:
    from newsletter.wsgi import application

    statuses: list[str] = []

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        statuses.append(status)

    def one() -> str:
        body = application(environ_for(path), start_response)
        b"".join(body)
        body.close()  # type: ignore[attr-defined]
        return statuses.pop()

    return one


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", required=True, help="a database benchmarks/web.py populated")
    parser.add_argument("--path", default="/")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--signup", action="store_true", help="POST /subscribe/ instead")
    args = parser.parse_args()
    configure(args.reuse)
    if args.signup:
        from django_q.brokers import get_broker

        # Tasks an earlier run left are signed with its own throwaway SECRET_KEY.
        get_broker().purge_queue()
    one = signup_requester() if args.signup else requester(args.path)
    path = "POST /subscribe/" if args.signup else args.path
    for _ in range(WARM_UP):
        status = one()
    if not status.startswith("200"):
        raise SystemExit(f"{path} answered {status}")
    # CPU time, like the figure: wall time would count waits on the database as cost.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    start = time.process_time()
    if profiler:
        profiler.enable()
    for _ in range(args.requests):
        one()
    if profiler:
        profiler.disable()
    cpu_ms = (time.process_time() - start) * 1000 / args.requests
    print(f"{path}: {cpu_ms:.3f} ms CPU per request over {args.requests} requests")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    if args.signup:
        tasks, cpu = run_queued_tasks()
        per_task = f"{cpu * 1000 / tasks:.3f} ms CPU per task" if tasks else "nothing queued"
        print(f"tasks the signups queued: {tasks}, {per_task}")


if __name__ == "__main__":
    main()

"""CPU per request inside Django: the WSGI app, its whole middleware stack included,
answering the same GET many times in this one process, with no server and no network.

    .venv/bin/python benchmarks/web_cpu.py --reuse DATABASE_URL [--path /] [--requests 2000]
        [--profile]

Settings as benchmarks/web.py runs gunicorn (DEBUG off, the page cache on, in files under a
throwaway var dir), against a database that `benchmarks/web.py --keep` populated. The first
requests render the page and fill the cache; the figure is CPU time (time.process_time) per
request after them, so it is the cost of a cache hit and does not move with the machine's load
as wall time does. `--profile` prints the 25 costliest functions under cProfile.
"""

import argparse
import cProfile
import io
import os
import pstats
import secrets
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
    os.environ.update(
        DJANGO_SETTINGS_MODULE="newsletter.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL="http://127.0.0.1:8000",
        DATABASE_URL=database_url,
        DAYBRIEF_VAR_DIR=tempfile.mkdtemp(prefix="daybrief-cpu-"),
        DAYBRIEF_DEMO="0",
        LOG_LEVEL="WARNING",
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
    args = parser.parse_args()
    configure(args.reuse)
    one = requester(args.path)
    for _ in range(WARM_UP):
        status = one()
    if not status.startswith("200"):
        raise SystemExit(f"{args.path} answered {status}")
    profiler = cProfile.Profile() if args.profile else None
    start = time.process_time()
    if profiler:
        profiler.enable()
    for _ in range(args.requests):
        one()
    if profiler:
        profiler.disable()
    cpu_ms = (time.process_time() - start) * 1000 / args.requests
    print(f"{args.path}: {cpu_ms:.3f} ms CPU per request over {args.requests} requests")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()

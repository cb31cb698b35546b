"""Web benchmark: gunicorn serving the topic index, a topic page and the signup form to
20 concurrent clients, against a database holding 30 days of a 2,000-source newsroom.

    .venv/bin/python benchmarks/web.py [--seconds 20] [--clients 20] [--keep]
        [--reuse DATABASE_URL] [--page-cache-seconds N] [--redis REDIS_URL]

Uses a throwaway PostgreSQL database on the server of DATABASE_URL when it points to
PostgreSQL, else a throwaway SQLite file. Prints one JSON object: requests per second and
p50/p95/p99 latency (ms) per endpoint, `index_p95_ms`, `topic_p95_ms`, `signup_p95_ms`
and `errors` (non-2xx/3xx answers and failed connections).

The site's page cache is on as in production (files under the run's var dir, or Redis with
`--redis`); `--page-cache-seconds 0` measures every request rendered afresh.
"""

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
SOURCES = 2000
DAYS = 30
ARTICLES_PER_SOURCE_DAY = 3  # 180,000 articles
ARTICLES_PER_TOPIC = 12  # ~500 topics a day
CATEGORIES = ["world", "politics", "business", "technology", "science", "health", "sports"]
WORDS = [
    "port",
    "strike",
    "battery",
    "plant",
    "election",
    "council",
    "budget",
    "storm",
    "flood",
    "court",
    "ruling",
    "vaccine",
    "trial",
    "market",
    "shares",
    "merger",
    "drought",
    "harvest",
    "bridge",
    "rail",
    "union",
    "wage",
    "minister",
    "summit",
    "treaty",
    "border",
    "satellite",
    "launch",
    "reactor",
    "grid",
    "solar",
    "wind",
    "tariff",
    "export",
    "inflation",
    "rate",
]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def populate() -> None:
    """Runs inside Django (`--populate`): bulk-insert the newsroom."""
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from topics.models import Source

    rng = random.Random(42)
    now = timezone.now()
    with transaction.atomic():
        Source.objects.bulk_create(
            Source(name=f"Source {n}", feed_url=f"https://feeds{n}.example.com/rss.xml")
            for n in range(SOURCES)
        )
    source_ids = list(Source.objects.values_list("pk", flat=True))
    for day in range(DAYS):
        populate_day(rng, now - dt.timedelta(days=day), source_ids)
        print(f"day {day + 1}/{DAYS}", file=sys.stderr, flush=True)


def populate_day(rng: random.Random, when: dt.datetime, source_ids: list[int]) -> None:
    from django.db import transaction

    from topics.models import Article, Topic

    articles_today = SOURCES * ARTICLES_PER_SOURCE_DAY
    topic_count = articles_today // ARTICLES_PER_TOPIC
    with transaction.atomic():
        topics = Topic.objects.bulk_create(
            Topic(
                cluster_id=secrets.token_hex(5),
                headline=sentence(rng, 9),
                dek=sentence(rng, 20),
                summary=sentence(rng, 60),
                category=rng.choice(CATEGORIES),
                importance=rng.randint(1, 5),
                importance_max=5,
                article_count=ARTICLES_PER_TOPIC,
                source_count=ARTICLES_PER_TOPIC,
                earliest_at=when - dt.timedelta(hours=6),
                latest_at=when,
                score=rng.random() * 100,
                tags=[rng.choice(WORDS), rng.choice(WORDS)],
                needs_enrichment=False,
                created_at=when,
                updated_at=when,
            )
            for _ in range(topic_count)
        )
        batch = []
        for n in range(articles_today):
            topic = topics[n % topic_count]
            title = sentence(rng, 10)
            seen = when - dt.timedelta(minutes=rng.randint(0, 600))
            batch.append(
                Article(
                    source_id=source_ids[n % SOURCES],
                    identity=f"urn:bench:{when:%Y%m%d}:{n}",
                    url=f"https://example.com/{when:%Y%m%d}/{n}",
                    title=title,
                    summary_html=f"<p>{sentence(rng, 25)}</p>",
                    text=title,
                    published_at=seen,
                    first_seen_at=seen,
                    updated_at=seen,
                    content_hash=hashlib.sha256(title.encode()).hexdigest(),
                    importance=rng.randint(1, 5),
                    topic_id=topic.pk,
                )
            )
        Article.objects.bulk_create(batch, batch_size=5000)
        leads = {}
        for article in Article.objects.filter(topic__in=topics).values("topic_id", "pk"):
            leads.setdefault(article["topic_id"], article["pk"])
        for topic in topics:
            topic.lead_article_id = leads.get(topic.pk)
        Topic.objects.bulk_update(topics, ["lead_article"], batch_size=5000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_database(var_dir: Path) -> tuple[str, Callable[[], None]]:
    """A throwaway database URL, and how to drop it."""
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{var_dir / 'bench.sqlite3'}", lambda: None
    import psycopg

    name = f"daybrief_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(urlsplit(server)._replace(path=f"/{name}")), drop


def environment(
    var_dir: Path, database_url: str, port: int, args: argparse.Namespace
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAYBRIEF_", "Q_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="newsletter.settings",
        PYTHONPATH=str(ROOT),
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{port}",
        DATABASE_URL=database_url,
        DB_CONN_MAX_AGE="60",
        DAYBRIEF_VAR_DIR=str(var_dir),
        EMAIL_URL="outbox://",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        # Every signup comes from 127.0.0.1: lift the per-address limits.
        DAYBRIEF_SIGNUPS_PER_IP_HOUR="1000000",
        DAYBRIEF_SIGNUPS_PER_ADDRESS_HOUR="1000000",
        DAYBRIEF_DEMO="0",
        LOG_LEVEL="WARNING",
        DAYBRIEF_PAGE_CACHE_SECONDS=str(args.page_cache_seconds),
    )
    env.setdefault("WEB_CONCURRENCY", str((os.cpu_count() or 2) * 2 + 1))
    env.pop("REDIS_URL", None)
    if args.redis:
        env.update(REDIS_URL=args.redis, Q_CLUSTER_NAME=f"daybrief-bench-{secrets.token_hex(4)}")
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer")


class Load:
    def __init__(self, base: str, topic_paths: list[str]) -> None:
        self.base = base
        self.topic_paths = topic_paths
        self.latencies: dict[str, list[float]] = {"index": [], "topic": [], "signup": []}
        self.errors = 0
        self.error_kinds: dict[str, int] = {}
        self.lock = threading.Lock()

    def client(self, endpoint: str, until: float, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base, timeout=10) as http:
            while time.monotonic() < until:
                try:
                    elapsed, status = self.request(http, endpoint, rng)
                except httpx.HTTPError as exc:
                    elapsed, status = 0.0, type(exc).__name__
                with self.lock:
                    if status == "ok":
                        self.latencies[endpoint].append(elapsed)
                    else:
                        self.errors += 1
                        kind = f"{endpoint} {status}"
                        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def request(self, http: httpx.Client, endpoint: str, rng: random.Random) -> tuple[float, str]:
        if endpoint == "index":
            return timed(lambda: http.get("/"))
        if endpoint == "topic":
            return timed(lambda: http.get(rng.choice(self.topic_paths)))
        form = http.get("/subscribe/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        data = {
            "csrfmiddlewaretoken": token.group(1) if token else "",
            "email": f"bench-{secrets.token_hex(6)}@example.com",
            "name": "",
        }
        return timed(lambda: http.post("/subscribe/", data=data))

    def run(self, clients: int, seconds: float, endpoints: list[str]) -> float:
        """`clients` threads spread over `endpoints` for `seconds`; the wall time."""
        until = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self.client, args=(endpoints[n % len(endpoints)], until, n))
            for n in range(clients)
        ]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - start


def timed(call: Callable[[], httpx.Response]) -> tuple[float, str]:
    """Milliseconds, and "ok" or the HTTP status of a failed answer."""
    start = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - start) * 1000
    return elapsed, "ok" if response.status_code < 400 else f"HTTP {response.status_code}"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1], 1)


def report(
    load: Load, walls: dict[str, float], database: str, env: dict[str, str]
) -> dict[str, object]:
    result: dict[str, object] = {
        "database": database,
        "sources": SOURCES,
        "days": DAYS,
        "articles": SOURCES * ARTICLES_PER_SOURCE_DAY * DAYS,
        "gunicorn_workers": int(env["WEB_CONCURRENCY"]),
        "seconds_per_endpoint": round(max(walls.values()), 1),
    }
    total = 0
    for name, values in load.latencies.items():
        total += len(values)
        result[f"{name}_requests"] = len(values)
        result[f"{name}_rps"] = round(len(values) / walls[name], 1)
        for p in (50, 95, 99):
            result[f"{name}_p{p}_ms"] = percentile(values, p)
    result["requests_per_second"] = round(total / sum(walls.values()), 1)
    result["errors"] = load.errors
    result["error_kinds"] = load.error_kinds
    return result


# wrk picks a random path of the file given after `--` for every request and prints one JSON
# line of latency percentiles (microseconds) and error counts when it is done.
WRK_SCRIPT = """
local paths = {}
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, "errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def wrk_run(base: str, paths: list[str], clients: int, seconds: float) -> dict[str, float]:
    """One wrk run over `paths`: requests, wall seconds, percentiles in ms, errors."""
    with tempfile.TemporaryDirectory() as tmp:
        paths_file, script = Path(tmp) / "paths", Path(tmp) / "paths.lua"
        paths_file.write_text("\n".join(paths) + "\n")
        script.write_text(WRK_SCRIPT)
        command = ["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--timeout", "10s"]
        command += ["-s", str(script), base, "--", str(paths_file)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    return {
        "requests": figures["requests"],
        "seconds": figures["duration_us"] / 1e6,
        **{f"p{p}_ms": round(figures[f"p{p}"] / 1000, 1) for p in (50, 95, 99)},
        "errors": figures["errors"],
    }


def add_wrk_figures(
    result: dict[str, object], load: Load, walls: dict[str, float], wrk: dict[str, dict]
) -> None:
    """Put wrk's figures for its endpoints beside the Python client's, and the totals."""
    for name, figures in wrk.items():
        result[f"{name}_requests"] = figures["requests"]
        result[f"{name}_rps"] = round(figures["requests"] / figures["seconds"], 1)
        for p in (50, 95, 99):
            result[f"{name}_p{p}_ms"] = figures[f"p{p}_ms"]
        if figures["errors"]:
            load.error_kinds[f"{name} (wrk)"] = figures["errors"]
    total = sum(len(values) for values in load.latencies.values())
    total += sum(figures["requests"] for figures in wrk.values())
    result["requests_per_second"] = round(total / sum(walls.values()), 1)
    result["errors"] = load.errors + sum(figures["errors"] for figures in wrk.values())
    result["error_kinds"] = load.error_kinds


def server_cpu_seconds(master: int) -> float:
    """CPU seconds used so far by gunicorn: the master, its live workers, and the workers it
    reaped (recycled ones). Unlike latency, this hardly moves with the machine's other load."""
    total = process_cpu_ticks(master, reaped_children=True)
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    for pid in children:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # exited meanwhile
            total += process_cpu_ticks(int(pid), reaped_children=False)
    return total / os.sysconf("SC_CLK_TCK")


def process_cpu_ticks(pid: int, reaped_children: bool) -> int:
    # /proc/PID/stat after the ")" closing the command name: field 3 (state) onwards, so
    # utime, stime, cutime and cstime (fields 14-17) are at 11-14.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11 : 15 if reaped_children else 13])


def add_server_cpu(result: dict[str, object], server_cpu: dict[str, float]) -> None:
    """Gunicorn's CPU milliseconds per request of each endpoint (signup: GET and POST)."""
    for name, seconds in server_cpu.items():
        requests = result[f"{name}_requests"]
        assert isinstance(requests, int)
        result[f"{name}_server_cpu_ms"] = round(seconds * 1000 / max(requests, 1), 2)


def cache_description(args: argparse.Namespace) -> str:
    if args.page_cache_seconds <= 0:
        return "off"
    return f"{'redis' if args.redis else 'files'}, {args.page_cache_seconds} s"


def topic_paths(base: str) -> list[str]:
    index = httpx.get(f"{base}/", timeout=30).text
    paths = sorted(set(re.findall(r'href="(/topics/[0-9a-f]{10}/)"', index)))
    if not paths:
        raise SystemExit("the index lists no topics")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database and var dir")
    parser.add_argument("--populate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--reuse", metavar="DATABASE_URL", help="a database a --keep run populated (skips setup)"
    )
    parser.add_argument(
        "--page-cache-seconds", type=int, default=60, help="DAYBRIEF_PAGE_CACHE_SECONDS; 0: off"
    )
    parser.add_argument("--redis", metavar="REDIS_URL", help="cache pages in this Redis")
    parser.add_argument(
        "--client",
        choices=["python", "wrk"],
        default="python",
        help="wrk (Debian's package) drives the index and topic pages from C, so the load "
        "client does not compete with the server for the 2 cores; signup stays in Python",
    )
    args = parser.parse_args()
    if args.populate:
        populate()
        return
    var_dir = Path(tempfile.mkdtemp(prefix="daybrief-bench-"))
    if args.reuse:
        database_url, drop = args.reuse, lambda: None
    else:
        database_url, drop = make_database(var_dir)
    port = free_port()
    env = environment(var_dir, database_url, port, args)
    web = None
    try:
        if not args.reuse:
            manage(env, "migrate", "--noinput", "-v0")
            subprocess.run([sys.executable, __file__, "--populate"], cwd=ROOT, env=env, check=True)
            print(f"database: {database_url}", file=sys.stderr)
        manage(env, "collectstatic", "--noinput", "-v0")
        web = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--config", "deploy/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, web)
        load = Load(base, topic_paths(base))
        # The slowest page last: requests a client gave up on still occupy the workers.
        endpoints = ["topic", "signup", "index"]
        load.run(len(endpoints), 2, endpoints)  # warm-up: one client per endpoint
        load = Load(base, load.topic_paths)
        # One endpoint at a time, all clients on it: each figure is that page's own.
        python_endpoints = ["signup"] if args.client == "wrk" else endpoints
        walls: dict[str, float] = {}
        server_cpu: dict[str, float] = {}
        for name in python_endpoints:
            cpu = server_cpu_seconds(web.pid)
            walls[name] = load.run(args.clients, args.seconds, [name])
            server_cpu[name] = server_cpu_seconds(web.pid) - cpu
        wrk_figures: dict[str, dict] = {}
        if args.client == "wrk":
            paths = {"topic": load.topic_paths, "index": ["/"]}
            for name, targets in paths.items():
                cpu = server_cpu_seconds(web.pid)
                wrk_figures[name] = wrk_run(base, targets, args.clients, args.seconds)
                server_cpu[name] = server_cpu_seconds(web.pid) - cpu
                walls[name] = wrk_figures[name]["seconds"]
        database = "postgresql" if database_url.startswith("postgres") else "sqlite"
        result = report(load, walls, database, env)
        add_wrk_figures(result, load, walls, wrk_figures)
        add_server_cpu(result, server_cpu)
        result["client"] = args.client
        result["page_cache"] = cache_description(args)
        result["load_average"] = [round(n, 2) for n in os.getloadavg()]
        print(json.dumps(result))
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=30)
        if not args.keep:
            drop()
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

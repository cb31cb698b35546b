"""Gunicorn settings for Daybrief (`make serve` and deploy/daybrief-web.service).

Everything can be overridden from the environment; GUNICORN_CMD_ARGS works too.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# Pages are short database reads: a few sync workers per core keep p95 low without
# letting a slow client hold the only worker.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow forever. The wide jitter keeps the
# workers from restarting together, and the app is loaded once in the master so a recycled
# worker answers at once: under load, five workers re-importing Django at the same moment held
# requests for seconds (benchmarks/web.py's p95).
max_requests = 10000
max_requests_jitter = 5000
preload_app = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
# The proxy in front sets X-Forwarded-For/-Proto; trust only it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
wsgi_app = "newsletter.wsgi:application"
# No control socket: it defaults to one path per user, which a second server would share.
control_socket_disable = True


def child_exit(server: object, worker: object) -> None:
    # Prometheus multiprocess mode: forget the live gauges of a worker that exited.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
